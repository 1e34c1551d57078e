"""Commissioning a home: emulated radars and Zigbee devices, the installer's steps, the report."""

from __future__ import annotations

import io
import json
import subprocess
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from eldergate.drivers.readings import Distance, Presence, Target, TargetHeight, Targets
from eldergate.drivers.seeed_tinyframe import encode_reading
from eldergate.gateway.tools.emulation import FrameEmulator, VirtualSerialPort

from broker import Mosquitto, online
from push_endpoint import PushEndpoint
from testutil import ROOT, clean_env, eldergate_cmd, read_lines, wait_for

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def test_commissioning_walks_through_the_home_and_reports_ready(mosquitto: Mosquitto, tmp_path: Path) -> None:
    ports = {s: VirtualSerialPort(tmp_path / f"{s}.tty") for s in ("bed_radar", "room_radar")}
    text = (ROOT / "config" / "demo.toml").read_text()
    for sid, p in ports.items():
        text = text.replace(f'"emulated:{sid}"', f'"{p.link}"')
    text = text.replace('state_dir = "/tmp/eldergate-demo"', f'state_dir = "{tmp_path / "state"}"')
    endpoint = PushEndpoint()  # the contacts' phones
    text = text.replace("json://127.0.0.1:9/", endpoint.url(""))
    text += (f'\n[local_mqtt]\nurl = "{mosquitto.url}"\n[uplink]\nbroker_url = "{mosquitto.url}"\n'
             '\n[[sensors]]\nid = "sos"\nprotocol = "zigbee2mqtt"\nrole = "sos"\nroom = "bedroom"\n'
             'mqtt = { topic = "zigbee2mqtt/sos" }\n')
    cfg = tmp_path / "home.toml"
    cfg.write_text(text)
    proc = subprocess.Popen(eldergate_cmd("commission", "--config", str(cfg), "--yes", "--step-timeout", "40",
                                          "--alive-timeout", "20"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=clean_env())
    bed, room = (FrameEmulator(ports[s], encode_reading) for s in ("bed_radar", "room_radar"))
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="z2m", protocol=mqtt.MQTTv5)
    online(pub, mosquitto.port)
    state = {"in_bed": False, "fallen": False, "edge": False}
    stop = threading.Event()

    def radars() -> None:  # the person, as the radars see them
        while not stop.is_set():
            inside = state["in_bed"]
            bed.send(Presence(present=inside), Distance(distance_m=0.6 if inside else None))
            x = -1.2 if inside else -0.8 if state["edge"] else 0.5  # the edge sit well inside the zone
            room.send(Targets(targets=(Target(id=1, x=x, y=1.2),)),
                      TargetHeight(height_m=0.45 if inside else 0.2 if state["fallen"] else 1.0))
            time.sleep(0.2)  # pace: the radars report five times a second

    threading.Thread(target=radars, daemon=True).start()
    assert proc.stdout is not None
    stdout = proc.stdout
    lines, reader = read_lines(stdout)

    def seen(text: str) -> bool:
        return any(text in line for line in list(lines))

    def z2m(topic: str, body: dict[str, object]) -> None:
        pub.publish(f"zigbee2mqtt/{topic}", json.dumps(body), qos=1).wait_for_publish(5)

    try:  # the installer follows the tool's own prompts: no fixed sleeps
        for _ in range(100):  # every sensor says something while the check runs
            for t, b in (("hall/front_door", {"contact": True}), ("kitchen_gas", {"gas": False}),
                         ("sos", {"battery": 90})):
                z2m(t, b)
            if wait_for(lambda: seen("2/3") or proc.poll() is not None, 0.5):
                break
        assert wait_for(lambda: seen("Sit on the edge of the bed"), 60), "".join(lines)
        state["edge"] = True
        assert wait_for(lambda: seen("Lie on the bed"), 60), "".join(lines)
        state["edge"], state["in_bed"] = False, True
        assert wait_for(lambda: seen("Get up"), 60), "".join(lines)
        state["in_bed"] = False
        assert wait_for(lambda: seen("Lie down on the floor"), 60), "".join(lines)
        state["fallen"] = True  # down fast, beside the bed
        assert wait_for(lambda: seen("Stand up again"), 60), "".join(lines)
        state["fallen"] = False
        assert wait_for(lambda: seen("Open and close the front door"), 60), "".join(lines)
        z2m("hall/front_door", {"contact": False})
        z2m("hall/front_door", {"contact": True})
        assert wait_for(lambda: seen("Press the SOS"), 60), "".join(lines)
        z2m("sos", {"action": "single"})
        assert wait_for(lambda: seen("Press the gas detector's test button"), 60), "".join(lines)
        z2m("kitchen_gas", {"gas": True})  # this detector reports its test as an alarm
        z2m("kitchen_gas", {"gas": False})
        proc.wait(timeout=120)
        reader.join(timeout=10)  # stdout read to its end by the one reader
        assert proc.stderr is not None
        err = proc.stderr.read()
        proc.stderr.close()
        stdout.close()
        out = "".join(lines)
    finally:
        stop.set()
        pub.loop_stop()
        for p in ports.values():
            p.close()
    assert proc.returncode == 0, out + err[-2000:]
    assert "✔ home ready" in out and "no sensor for this, skipped" in out  # there is no smoke detector
    report = json.loads((tmp_path / "state" / "commission-report.json").read_text())
    assert report["ready"] and set(report["sensors"]) == {"bed_radar", "room_radar", "front_door", "kitchen_gas", "sos"}
    assert report["steps"]["press_sos"]["result"] == "passed" and report["steps"]["smoke_test"]["result"] == "skipped"
    assert report["steps"]["fall"]["result"] == "passed" and report["steps"]["fall_up"]["result"] == "passed"
    assert report["steps"]["gas_test"]["result"] == "passed"
    zone = report["steps"]["bed_zone"]["zones"]["room_radar"]
    assert report["steps"]["bed_zone"]["result"] == "passed" and zone["sit_margin_m"] == pytest.approx(0.3, abs=0.01)
    assert report["steps"]["test_push"]["result"] == "passed"  # one test push to each contact, delivered
    assert sorted(endpoint.who()) == ["grid_worker", "relative"]
    assert all("测试" in body["title"] for _path, body in endpoint.received)
    endpoint.close()
    retained: list[bytes] = []
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="server", protocol=mqtt.MQTTv5)
    sub.on_message = lambda _c, _u, m: retained.append(m.payload)
    sub.connect("127.0.0.1", mosquitto.port)
    sub.subscribe("eldergate/v1/demo-community/demo-home-01/commission", qos=1)
    sub.loop_start()
    wait_for(lambda: bool(retained), 5)
    sub.loop_stop()
    assert retained and json.loads(retained[0])["ready"] is True


def test_a_failed_step_says_what_to_check_and_can_be_tried_again(mosquitto: Mosquitto, tmp_path: Path) -> None:
    from eldergate.config.loader import parse_config
    from eldergate.gateway.tools.commission import Commissioning

    cfg = parse_config({
        "gateway": {"site": "s", "id": "g", "state_dir": str(tmp_path)},
        "residents": [{"id": "r1", "display_name": "x", "birth_year": 1940}],
        "rooms": [{"id": "hall", "name": "hall"}],
        "sensors": [{"id": "door", "protocol": "zigbee2mqtt", "role": "door", "room": "hall",
                     "mqtt": {"topic": "zigbee2mqtt/door"}, "placement": {"front_door": True}}],
        "local_mqtt": {"url": mosquitto.url},
        "notifications": {"enabled": False},
    })
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="z2m-retry", protocol=mqtt.MQTTv5)
    online(pub, mosquitto.port)
    answers: list[str] = []

    def installer() -> str:  # Enter at each prompt; after the hint, the door is really opened this time
        answers.append("")
        if len(answers) == 3:
            pub.publish("zigbee2mqtt/door", json.dumps({"contact": False}), qos=1).wait_for_publish(5)
        return ""

    pub.publish("zigbee2mqtt/door", json.dumps({"contact": True}), qos=1).wait_for_publish(5)
    out = io.StringIO()
    try:
        report = Commissioning(cfg, out, wait_input=True, step_timeout=2.0, alive_timeout=10.0,
                               answer=installer).run()
    finally:
        pub.loop_stop()
    text = out.getvalue()
    assert "hint: is the contact sensor paired" in text and "Enter: try again" in text, text
    assert report.steps["open_door"]["result"] == "passed", text
