"""Commissioning a home: emulated radars and Zigbee devices, the installer's steps, the report."""

from __future__ import annotations

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

from broker import Mosquitto
from testutil import ROOT, clean_env, eldergate_cmd, wait_for

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def test_commissioning_walks_through_the_home_and_reports_ready(mosquitto: Mosquitto, tmp_path: Path) -> None:
    ports = {s: VirtualSerialPort(tmp_path / f"{s}.tty") for s in ("bed_radar", "room_radar")}
    text = (ROOT / "config" / "demo.toml").read_text()
    for sid, p in ports.items():
        text = text.replace(f'"emulated:{sid}"', f'"{p.link}"')
    text = text.replace('state_dir = "/tmp/eldergate-demo"', f'state_dir = "{tmp_path / "state"}"')
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
    pub.connect("127.0.0.1", mosquitto.port)
    pub.loop_start()
    state = {"in_bed": False}
    stop = threading.Event()

    def radars() -> None:  # the person, as the radars see them
        while not stop.is_set():
            inside = state["in_bed"]
            bed.send(Presence(present=inside), Distance(distance_m=0.6 if inside else None))
            room.send(Targets(targets=(Target(id=1, x=-1.2 if inside else 0.5, y=1.2),)),
                      TargetHeight(height_m=0.45 if inside else 1.0))
            time.sleep(0.2)

    threading.Thread(target=radars, daemon=True).start()
    lines: list[str] = []
    assert proc.stdout is not None
    stdout = proc.stdout
    reader = threading.Thread(target=lambda: lines.extend(stdout), daemon=True)
    reader.start()

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
        assert wait_for(lambda: seen("Lie on the bed"), 60), "".join(lines)
        state["in_bed"] = True
        assert wait_for(lambda: seen("Get up"), 60), "".join(lines)
        state["in_bed"] = False
        assert wait_for(lambda: seen("Open and close the front door"), 60), "".join(lines)
        z2m("hall/front_door", {"contact": False})
        z2m("hall/front_door", {"contact": True})
        assert wait_for(lambda: seen("Press the SOS"), 60), "".join(lines)
        z2m("sos", {"action": "single"})
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
    retained: list[bytes] = []
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="server", protocol=mqtt.MQTTv5)
    sub.on_message = lambda _c, _u, m: retained.append(m.payload)
    sub.connect("127.0.0.1", mosquitto.port)
    sub.subscribe("eldergate/v1/demo-community/demo-home-01/commission", qos=1)
    sub.loop_start()
    wait_for(lambda: bool(retained), 5)
    sub.loop_stop()
    assert retained and json.loads(retained[0])["ready"] is True
