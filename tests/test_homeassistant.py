"""Home Assistant discovery against a real Mosquitto: the device config, state, availability, events."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from eldergate.config.loader import parse_config
from eldergate.gateway.runtime import Gateway
from eldergate.signal.model import Event, EventName, Observation

from broker import Mosquitto
from testutil import wait_for

pytestmark = pytest.mark.broker


def test_discovery_state_and_events_reach_home_assistant(mosquitto: Mosquitto, tmp_path: Path) -> None:
    seen: dict[str, list[bytes]] = {}
    ha = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="home-assistant", protocol=mqtt.MQTTv5)
    ha.on_message = lambda _c, _u, m: seen.setdefault(m.topic, []).append(m.payload)
    ha.connect("127.0.0.1", mosquitto.port)
    ha.subscribe([("homeassistant/#", 1), ("eldergate/#", 1)])
    ha.loop_start()
    cfg = parse_config({
        "gateway": {"site": "s1", "id": "gw-1", "state_dir": str(tmp_path)},
        "residents": [{"id": "r1", "display_name": "x", "birth_year": 1940}],
        "rooms": [{"id": "bedroom", "name": "b"}],
        "sensors": [{"id": "door", "protocol": "zigbee2mqtt", "role": "door", "room": "bedroom",
                     "mqtt": {"topic": "zigbee2mqtt/door"}}],
        "local_mqtt": {"url": mosquitto.url},
        "home_assistant": {"enabled": True},
    })
    gw = Gateway(cfg, [], tick_s=0.05, mqtt=False)
    gw.start()
    th = threading.Thread(target=gw.run, daemon=True)
    th.start()
    try:
        assert gw.ha is not None and gw.ha.connected.wait(10)
        t = time.time()
        gw.sinks.emit(Observation(t, "heart_rate_bpm", 63.0, "bed", "r1", 0.9, None, "bpm"))
        gw.sinks.emit(Observation(t, "breathing_rate_bpm", 14.0, "bed", "r1", 0.9, None, "1/min"))
        gw.sinks.emit(Event(t, EventName.BED_ENTRY, "r1", "bedroom", "bed"))
        gw.sinks.emit(Event(t, EventName.POSSIBLE_FALL, "r1", "bedroom", "radar"))
        end = time.monotonic() + 10
        while time.monotonic() < end and not any(b'"r1_in_bed": "ON"' in p for p in
                                                  seen.get("eldergate/gw-1/state", [])):
            time.sleep(0.05)
        ha.publish("homeassistant/status", b"online")  # Home Assistant restarted: announce again
        assert wait_for(lambda: len(seen.get("homeassistant/device/eldergate_gw_1/config", [])) >= 2, 10)
    finally:
        gw.stop()
        th.join(timeout=10)
        ha.loop_stop()
        ha.disconnect()
    configs = seen["homeassistant/device/eldergate_gw_1/config"]
    assert len(configs) >= 2  # once at start, once after Home Assistant's birth message
    doc = json.loads(configs[0])
    assert doc["dev"]["ids"] == ["eldergate_gw_1"] and doc["o"]["name"] == "eldergate"
    assert doc["state_topic"] == "eldergate/gw-1/state" and doc["availability_topic"] == "eldergate/gw-1/availability"
    cmps = doc["cmps"]
    assert {"r1_heart_rate", "r1_breathing_rate", "r1_in_bed", "r1_last_fall", "r1_fall", "uplink",
            "unsent_alerts"} <= cmps.keys()
    assert all("p" in c and c["unique_id"].startswith("eldergate_gw_1_") for c in cmps.values())
    assert cmps["r1_heart_rate"]["unit_of_measurement"] == "bpm" and cmps["r1_in_bed"]["device_class"] == "occupancy"
    assert cmps["uplink"]["device_class"] == "connectivity"
    state = json.loads(seen["eldergate/gw-1/state"][-1])
    assert state["r1_heart_rate"] == 63.0 and state["r1_in_bed"] == "ON" and state["uplink"] == "OFF"
    assert json.loads(seen["eldergate/gw-1/event"][0])["event_type"] == "fall_detected"
    assert seen["eldergate/gw-1/availability"][0] == b"online" and seen["eldergate/gw-1/availability"][-1] == b"offline"
