"""Clock jumps, and garbage on every input while the gateway runs."""

from __future__ import annotations

import json
import os
import random
import threading
import time
from pathlib import Path

from eldergate.config.loader import load_config
from eldergate.drivers.readings import Presence
from eldergate.drivers.seeed_tinyframe import encode_reading
from eldergate.gateway.core.clock import SteadyClock
from eldergate.gateway.runtime import Gateway
from eldergate.gateway.tools.emulation import FrameEmulator, VirtualSerialPort
from eldergate.signal.model import Event

from testutil import ROOT, wait_for, with_check_in


class FakeWall:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def _config(tmp_path: Path, ports: dict[str, VirtualSerialPort], check_in: str = "10min") -> Path:
    text = (ROOT / "config" / "demo.toml").read_text()
    for sid, p in ports.items():
        text = text.replace(f'"emulated:{sid}"', f'"{p.link}"')
    cfg = tmp_path / "home.toml"
    cfg.write_text(with_check_in(text, check_in))
    return cfg


def test_clock_jumps_are_not_silence(tmp_path: Path) -> None:
    ports = {s: VirtualSerialPort(tmp_path / f"{s}.tty") for s in ("bed_radar", "room_radar")}
    wall = FakeWall()
    clock = SteadyClock(wall=wall)
    events: list[Event] = []
    gw = Gateway(load_config(_config(tmp_path, ports, check_in="30s")), [], clock=clock, tick_s=0.05, mqtt=False)
    gw.on_output = lambda o: events.append(o) if isinstance(o, Event) else None
    gw.start()
    th = threading.Thread(target=gw.run, daemon=True)
    th.start()
    emus = {s: FrameEmulator(p, encode_reading) for s, p in ports.items()}
    try:
        for jump in (2 * 3600.0, -3600.0, 86400.0):  # NTP sets the time; a manual change back; a day ahead
            for _ in range(10):
                for e in emus.values():
                    e.send(Presence(present=False))
                time.sleep(0.05)
            wall.offset += jump
            time.sleep(0.5)  # pace: readings go on across the jump
        for _ in range(10):
            for e in emus.values():
                e.send(Presence(present=False))
            time.sleep(0.05)
    finally:
        gw.stop()
        th.join(timeout=10)
        for p in ports.values():
            p.close()
    names = [str(e.name) for e in events]
    assert "sensor_silent" not in names, names
    assert th.is_alive() is False and gw.processed > 40
    print(f"\ntried: wall-clock jumps of +2 h, -1 h and +1 day while two radars report; survived: no false "
          f"'sensor silent', {gw.processed} readings processed, stamps now {time.time() + wall.offset:.0f}")


def test_garbage_on_every_input(tmp_path: Path) -> None:
    ports = {s: VirtualSerialPort(tmp_path / f"{s}.tty") for s in ("bed_radar", "room_radar")}
    gw = Gateway(load_config(_config(tmp_path, ports)), [], tick_s=0.05, mqtt=False)
    events: list[Event] = []
    gw.on_output = lambda o: events.append(o) if isinstance(o, Event) else None
    gw.start()
    th = threading.Thread(target=gw.run, daemon=True)
    th.start()
    rng = random.Random(3)
    sent = 0
    try:
        end = time.monotonic() + float(os.environ.get("ELDERGATE_GARBAGE_S", "5"))
        while time.monotonic() < end:
            for p in ports.values():
                chunk = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300)))
                p.write(chunk)
                sent += len(chunk)
            gw.bus.publish(rng.choice(["zigbee2mqtt/hall/front_door", "zigbee2mqtt/kitchen_gas",
                                       "zigbee2mqtt/bridge/state", "zigbee2mqtt/kitchen_gas/availability"]),
                           rng.choice([b"\xff\x00", b"{", b"[]", b"null", json.dumps({"gas": "x"}).encode(),
                                       bytes(rng.getrandbits(8) for _ in range(50))]))
            time.sleep(0.005)
        decoded = {sid: gw.decoders[sid].stats.frames for sid in ports}
        for p in ports.values():  # and afterwards, real frames still decode
            FrameEmulator(p, encode_reading).send(Presence(present=True))
        assert wait_for(lambda: all(gw.decoders[sid].stats.frames > n for sid, n in decoded.items()), 10), \
            "a real frame after the garbage was not decoded"
    finally:
        gw.stop()
        th.join(timeout=10)
        for p in ports.values():
            p.close()
    stats = {sid: d.stats for sid, d in gw.decoders.items()}
    assert not th.is_alive()
    # garbage is counted and skipped: no driver failed (and was restarted), no callback raised
    assert {n: s.failures for n, s in gw.supervisor.tasks.items() if s.failures} == {}
    assert gw.supervisor.callback_errors == {}
    assert sum(s.dropped_bytes for s in stats.values()) > 0.9 * sent * 0.5
    assert stats["kitchen_gas"].malformed > 0
    assert [e for e in events if e.name in ("gas", "smoke", "possible_fall")] == []
    print(f"\ntried: {sent:,} random bytes on the radars' ports and random payloads on the MQTT topics; survived: "
          f"no crash, no alert, {sum(s.dropped_bytes for s in stats.values()):,} bytes dropped and counted, "
          f"{stats['kitchen_gas'].malformed} malformed messages counted")


def test_alerts_raised_before_the_clock_was_set_are_restamped(tmp_path: Path) -> None:
    from eldergate.config.loader import parse_config
    from eldergate.gateway.core.clock import TRUSTED_AFTER
    from eldergate.gateway.delivery.outbox import Outbox

    wall = FakeWall()
    wall.offset = (TRUSTED_AFTER - 86400 * 300) - time.time()  # a Pi that booted thinking it is early 2025
    clock = SteadyClock(wall=wall)
    cfg = parse_config({
        "gateway": {"site": "s", "id": "g", "state_dir": str(tmp_path)},
        "residents": [{"id": "r1", "display_name": "x", "birth_year": 1940}],
        "rooms": [{"id": "k", "name": "k"}],
        "sensors": [{"id": "gas", "protocol": "zigbee2mqtt", "role": "gas", "room": "k",
                     "mqtt": {"topic": "zigbee2mqtt/gas"}}],
    })
    store = Outbox(tmp_path / "o.db")
    gw = Gateway(cfg, [], clock=clock, store=store, tick_s=0.05, mqtt=False)
    gw.start()
    th = threading.Thread(target=gw.run, daemon=True)
    th.start()
    try:
        assert not gw.clock_trusted()
        gw.bus.publish("zigbee2mqtt/gas", b'{"gas": true}')
        assert wait_for(lambda: bool(store.pending_alerts()), 10)
        before = store.pending_alerts()[0].alert.raised_at
        wall.offset = 0.0  # NTP sets the clock
        assert wait_for(lambda: store.pending_alerts()[0].alert.raised_at >= TRUSTED_AFTER, 10)
        after = store.pending_alerts()[0].alert
    finally:
        gw.stop()
        th.join(timeout=10)
    assert before < TRUSTED_AFTER <= after.raised_at and abs(after.raised_at - time.time()) < 5
    assert after.evidence["clock_corrected_s"] > 86400 * 300
    print(f"\ntried: a gas alarm while the clock said {before:.0f}; survived: re-stamped to {after.raised_at:.0f} "
          "when the clock was set")
