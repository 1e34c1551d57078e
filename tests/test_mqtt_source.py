"""Home sensors over a real Mosquitto: Zigbee2MQTT and rtl_433 messages from a separate client."""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from eldergate.config.loader import parse_config
from eldergate.drivers.readings import Alarm, Availability, Battery, Contact, LinkQuality, Pulse, Reading
from eldergate.gateway.runtime import Gateway
from eldergate.signal.model import Event, EventName

from broker import Mosquitto, online
from testutil import wait_for

pytestmark = pytest.mark.broker


def home_config(url: str, state: Path, check_in: float = 3600.0) -> dict[str, object]:
    def z2m(sid: str, role: str, topic: str) -> dict[str, object]:
        return {"id": sid, "protocol": "zigbee2mqtt", "role": role, "room": "hall", "mqtt": {"topic": topic},
                "check_in": check_in, "placement": {"front_door": sid == "door"}}

    return {
        "gateway": {"site": "t", "id": "gw1", "state_dir": str(state)},
        "residents": [{"id": "r1", "display_name": "x", "birth_year": 1940}],
        "rooms": [{"id": "hall", "name": "hall"}],
        "local_mqtt": {"url": url},
        "sensors": [
            z2m("door", "door", "zigbee2mqtt/hall/front door"),
            z2m("gas", "gas", "zigbee2mqtt/kitchen_gas"),
            z2m("smoke", "smoke", "zigbee2mqtt/smoke"),
            {"id": "rf_door", "protocol": "rtl433", "role": "door", "room": "hall", "check_in": 3600,
             "mqtt": {"topic": "rtl_433/pi/events", "model": "Honeywell-Security", "device_id": 74565}},
            {"id": "rf_smoke", "protocol": "rtl433", "role": "smoke", "room": "hall", "check_in": 3600,
             "mqtt": {"topic": "rtl_433/pi/events", "model": "Kidde-Smoke", "device_id": 12}},
            {"id": "leak", "protocol": "json", "role": "water_leak", "room": "hall", "check_in": 3600,
             "mqtt": {"topic": "vendor/leak1/state"},
             "mapping": [{"path": "$.status.alarm", "equals": 1, "reading": "water_leak"}]},
        ],
    }


class Running:
    def __init__(self, cfg: dict[str, object]) -> None:
        self.gw = Gateway(parse_config(cfg), [], tick_s=0.05)
        self.readings: list[Reading] = []
        self.events: list[Event] = []
        self.gw.on_reading = self.readings.append
        self.gw.on_output = lambda o: self.events.append(o) if isinstance(o, Event) else None
        self.gw.start()
        self.thread = threading.Thread(target=self.gw.run, daemon=True)
        self.thread.start()
        assert self.gw.mqtt_source is not None and self.gw.mqtt_source.connected.wait(10)

    def stop(self) -> None:
        self.gw.stop()
        self.thread.join(timeout=10)

    def names(self, sensor: str | None = None) -> list[str]:
        return [str(e.name) for e in self.events if sensor is None or e.sensor == sensor]


@pytest.fixture
def publisher(mosquitto: Mosquitto) -> Iterator[mqtt.Client]:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-publisher", protocol=mqtt.MQTTv5)
    online(c, mosquitto.port)
    yield c
    c.loop_stop()
    c.disconnect()


def pub(c: mqtt.Client, topic: str, payload: object) -> None:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    c.publish(topic, data, qos=1).wait_for_publish(5)




def test_z2m_and_rtl433_messages_become_exact_readings_and_events(
        mosquitto: Mosquitto, publisher: mqtt.Client, tmp_path: Path) -> None:
    run = Running(home_config(mosquitto.url, tmp_path))
    try:
        pub(publisher, "zigbee2mqtt/bridge/state", {"state": "online"})
        pub(publisher, "zigbee2mqtt/hall/front door", {"contact": True, "battery": 91, "linkquality": 72})
        pub(publisher, "zigbee2mqtt/hall/front door", {"contact": False, "battery": 91, "linkquality": 70})
        pub(publisher, "zigbee2mqtt/kitchen_gas", {"gas": False, "tamper": False})
        pub(publisher, "zigbee2mqtt/kitchen_gas", {"gas": True, "tamper": False})
        pub(publisher, "zigbee2mqtt/kitchen_gas", {"gas": True, "tamper": False, "battery": 70})  # cached
        pub(publisher, "zigbee2mqtt/smoke", {"smoke": True, "test": True, "battery_low": False})
        honeywell = {"time": "2026-09-01T02:13:05Z", "model": "Honeywell-Security", "id": 74565, "channel": 8,
                     "event": 128, "state": "open", "contact_open": 1, "reed_open": 1, "alarm": 0, "tamper": 0,
                     "battery_ok": 1, "heartbeat": 0, "mic": "CRC"}
        pub(publisher, "rtl_433/pi/events", honeywell)
        for _ in range(3):  # one smoke alarm transmitting: a burst of identical messages
            pub(publisher, "rtl_433/pi/events", {"model": "Kidde-Smoke", "id": 12})
        pub(publisher, "rtl_433/pi/events", {"model": "Kidde-Smoke", "id": 99})  # another house's alarm
        pub(publisher, "vendor/leak1/state", {"status": {"alarm": 1}, "rssi": -70})
        assert wait_for(lambda: sum(1 for r in run.readings if r.sensor == "leak") == 1)
        assert wait_for(lambda: "water_leak" in run.names("leak"))
    finally:
        run.stop()
    door = [dataclasses.replace(r, t=0.0) for r in run.readings if r.sensor == "door"]
    assert door == [
        Availability(online=True, scope="bridge", sensor="door"),
        Contact(closed=True, sensor="door"), Battery(percent=91.0, sensor="door"),
        LinkQuality(value=72.0, sensor="door"),
        Contact(closed=False, sensor="door"), Battery(percent=91.0, sensor="door"),
        LinkQuality(value=70.0, sensor="door"),
    ]
    gas = [r.active for r in run.readings if r.sensor == "gas" and isinstance(r, Alarm)]
    assert gas == [False, True, True]
    assert run.names("door") == ["door_opened"]
    assert run.names("gas") == ["gas"]  # the cached gas: true is not a second leak
    assert run.names("smoke") == ["smoke_test"]  # a self-test is never a fire
    assert next(r for r in run.readings if r.sensor == "rf_door" and isinstance(r, Contact)).closed is False
    assert run.names("rf_door") == ["door_opened"]
    assert [type(r) for r in run.readings if r.sensor == "rf_smoke"] == [Pulse, Pulse, Pulse]
    assert run.names("rf_smoke") == ["smoke"]  # the burst is one alarm
    assert run.names("leak") == ["water_leak"]


def test_broker_stopped_10s_and_restarted_nothing_published_after_is_missed(
        mosquitto: Mosquitto, tmp_path: Path) -> None:
    run = Running(home_config(mosquitto.url, tmp_path))
    try:
        mosquitto.stop()
        assert wait_for(lambda: not run.gw.mqtt_source.connected.is_set())  # type: ignore[union-attr]
        time.sleep(10)  # fault: the broker stays down 10 s
        mosquitto.start()
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="late-publisher", protocol=mqtt.MQTTv5)
        c.connect("127.0.0.1", mosquitto.port)
        c.loop_start()
        for i in range(20):  # published at once, possibly before the gateway is back
            pub(c, "zigbee2mqtt/kitchen_gas", {"gas": i % 2 == 1, "linkquality": i})
        c.loop_stop()
        c.disconnect()
        assert wait_for(lambda: len([r for r in run.readings if r.sensor == "gas" and isinstance(r, Alarm)]) == 20,
                        timeout=40)
        # a persistent session delivers what was queued right after CONNACK, before our SUBACK: "connected"
        # (= subscribed again) can follow the last message by a moment on a loaded machine
        assert wait_for(lambda: run.gw.mqtt_source.connected.is_set(), 10)  # type: ignore[union-attr]
    finally:
        run.stop()
    lq = [r.value for r in run.readings if r.sensor == "gas" and r.kind == "link_quality"]  # type: ignore[attr-defined]
    assert lq == [float(i) for i in range(20)]


def test_malformed_payloads_counted_and_logged_once_per_sensor(
        mosquitto: Mosquitto, publisher: mqtt.Client, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="eldergate.gateway.links.mqtt_source")
    run = Running(home_config(mosquitto.url, tmp_path))
    try:
        for payload in (b"not json", b"[1,2]", b'{"gas": "maybe"}', b'{"gas": true, "x": "' + b"a" * 70_000 + b'"}',
                        b"\xff\xfe"):
            publisher.publish("zigbee2mqtt/kitchen_gas", payload, qos=1).wait_for_publish(5)
        for payload in (b"{", b"null"):
            publisher.publish("zigbee2mqtt/hall/front door", payload, qos=1).wait_for_publish(5)
        pub(publisher, "zigbee2mqtt/kitchen_gas", {"gas": True})
        assert wait_for(lambda: "gas" in run.names("gas"))
    finally:
        run.stop()
    assert run.gw.decoders["gas"].stats.malformed == 5
    assert run.gw.decoders["door"].stats.malformed == 2
    lines = [r.getMessage() for r in caplog.records if "malformed" in r.getMessage()]
    assert len(lines) == 2 and any("sensor gas" in x for x in lines) and any("sensor door" in x for x in lines)


def test_silent_past_check_in_then_recovered(mosquitto: Mosquitto, publisher: mqtt.Client, tmp_path: Path) -> None:
    run = Running(home_config(mosquitto.url, tmp_path, check_in=1.5))
    try:
        pub(publisher, "zigbee2mqtt/hall/front door", {"contact": True})
        assert wait_for(lambda: "sensor_silent" in run.names("door"), timeout=10)
        pub(publisher, "zigbee2mqtt/hall/front door", {"contact": True, "battery_low": True})
        assert wait_for(lambda: "sensor_recovered" in run.names("door"))
        assert wait_for(lambda: "battery_low" in run.names("door"))
        pub(publisher, "zigbee2mqtt/hall/front door/availability", {"state": "offline"})
        assert wait_for(lambda: "bridge_offline" in run.names("door"))
    finally:
        run.stop()
    assert run.names("door")[:2] == ["sensor_silent", "sensor_recovered"]
    assert EventName.BATTERY_LOW in [e.name for e in run.events]


def test_mqtt_311_for_the_home_broker_and_the_uplink(mosquitto: Mosquitto, publisher: mqtt.Client,
                                                     tmp_path: Path) -> None:
    from eldergate.gateway.delivery.outbox import Outbox
    from eldergate.gateway.links.mqtt_link import ClientSettings

    from reference_receiver import CommunityReceiver

    cfg = home_config(mosquitto.url, tmp_path)
    cfg["local_mqtt"] = {"url": mosquitto.url, "protocol": "v311"}
    cfg["uplink"] = {"broker_url": mosquitto.url, "protocol": "v311", "resend_after": 1}
    rx = CommunityReceiver(ClientSettings(mosquitto.url, "rx311", "v311"))
    rx.start()
    gw = Gateway(parse_config(cfg), [], store=Outbox(tmp_path / "o.db"), tick_s=0.05)
    gw.start()
    th = threading.Thread(target=gw.run, daemon=True)
    th.start()
    try:
        assert gw.mqtt_source is not None and gw.mqtt_source.connected.wait(10)
        assert gw.uplink is not None and gw.uplink.connected.wait(10)
        pub(publisher, "zigbee2mqtt/kitchen_gas", {"gas": True})
        assert wait_for(lambda: any(a.kind == "gas" for h in rx.homes.values() for a in h.alerts.values()))
        assert wait_for(lambda: gw.store is not None and gw.store.unsent_count() == 0)
    finally:
        gw.stop()
        th.join(timeout=10)
        rx.stop()
