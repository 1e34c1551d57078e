"""The real serial transport through pseudo-terminals: frames in, readings out, unplug, replug."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from eldergate.config.loader import load_config
from eldergate.drivers import ld2410
from eldergate.drivers.readings import Distance, Presence
from eldergate.drivers.seeed_tinyframe import encode_reading
from eldergate.gateway.core.clock import SystemClock
from eldergate.gateway.core.inbox import Inbox
from eldergate.gateway.links.decode import decoders_for
from eldergate.gateway.links.ti_cli import ChirpConfigError, send_chirp_config
from eldergate.gateway.links.transports import SerialTransport
from eldergate.gateway.runtime import Gateway
from eldergate.gateway.tools.emulation import FrameEmulator, VirtualSerialPort
from eldergate.signal.model import Event, EventName

from testutil import ROOT, clean_env, eldergate_cmd, wait_for, with_check_in

TI_FILE = ROOT.parent / "shared" / "data" / "ti_vitalsigns_uart" / "vs68xx_first300frames.bin"


def _config(tmp_path: Path, check_in: str = "1s") -> Path:
    text = (ROOT / "config" / "demo.toml").read_text()
    text = text.replace('"emulated:bed_radar"', f'"{tmp_path / "bed.tty"}"')
    text = text.replace('"emulated:room_radar"', f'"{tmp_path / "room.tty"}"')
    text = with_check_in(text, check_in)
    cfg = tmp_path / "home.toml"
    cfg.write_text(text)
    return cfg




def test_frames_in_readings_out_and_unplug_replug_is_silent_then_recovered(tmp_path: Path) -> None:
    bed_port = VirtualSerialPort(tmp_path / "bed.tty")
    room_port = VirtualSerialPort(tmp_path / "room.tty")
    cfg = load_config(_config(tmp_path))
    events: list[Event] = []
    gw = Gateway(cfg, [], tick_s=0.05)
    gw.on_output = lambda o: events.append(o) if isinstance(o, Event) else None
    gw.start()
    core = threading.Thread(target=gw.run, daemon=True)
    core.start()
    bed = FrameEmulator(bed_port, encode_reading)
    room = FrameEmulator(room_port, encode_reading)
    stop = threading.Event()

    def keep_room_alive() -> None:
        while not stop.is_set():
            room.send(Presence(present=False))
            time.sleep(0.1)

    threading.Thread(target=keep_room_alive, daemon=True).start()
    try:
        for _ in range(400):  # until the gateway has its port open and has read ten frames (a loaded start is slow)
            bed.send(Presence(present=True), split=True)
            if gw.decoders["bed_radar"].stats.frames >= 10:
                break
            time.sleep(0.05)
        assert gw.decoders["bed_radar"].stats.frames >= 10
        before = len(events)  # a slow start can itself look like a second of silence: judge what follows
        bed_port.unplug()  # the USB cable is pulled: no frames for longer than the 1 s check-in
        assert wait_for(lambda: any(e.name == EventName.SENSOR_SILENT and e.sensor == "bed_radar" for e in events))
        tr = next(t for t in gw.serial if t.name == "bed_radar")
        assert wait_for(lambda: not tr.health.connected)
        assert gw.sensor_status()["bed_radar"] == "disconnected"  # one health record, read by status and uplink
        assert gw.sensor_health()["bed_radar"].last_error is not None
        bed_port.plug()  # same stable path, new pty behind it
        assert wait_for(lambda: tr.health.connected, timeout=15)
        end = time.monotonic() + 10
        while time.monotonic() < end and not any(e.name == EventName.SENSOR_RECOVERED for e in events):
            bed.send(Presence(present=True))
            time.sleep(0.05)
        assert [e.name for e in events[before:] if e.sensor == "bed_radar" and "sensor" in e.name] == [
            EventName.SENSOR_SILENT, EventName.SENSOR_RECOVERED]
        assert tr.health.reconnects >= 1
    finally:
        stop.set()
        gw.stop()
        core.join(timeout=5)
        bed_port.close()
        room_port.close()


def test_corrupt_frames_are_counted_and_skipped_through_the_pty(tmp_path: Path) -> None:
    port = VirtualSerialPort(tmp_path / "r.tty")
    cfg = load_config(_config(tmp_path))
    dec = decoders_for(cfg)["bed_radar"]
    out: Inbox = queue.Queue()
    stop = threading.Event()
    tr = SerialTransport(dec, str(port.link), 115200, SystemClock(), out, stop)
    th = threading.Thread(target=tr.run, daemon=True)
    th.start()
    try:
        assert wait_for(lambda: tr.health.connected)  # pyserial flushes input on open: write after it
        time.sleep(0.1)
        emu = FrameEmulator(port, encode_reading, seed=4)
        for i in range(40):
            emu.send(Presence(present=True), corrupt=(i % 4 == 0), split=(i % 3 == 0))
        emu.send(Presence(present=False))  # a marker: once it is decoded, everything sent before it was
        assert wait_for(lambda: any(getattr(r, "present", None) is False for r in list(out.queue)))
        assert out.qsize() == 31 and dec.stats.frames == 31
        assert dec.stats.bad_checksum + dec.stats.dropped_bytes > 0
    finally:
        stop.set()
        th.join(timeout=3)
        port.close()


def test_ld2410_startup_commands_are_written_when_the_port_opens(tmp_path: Path) -> None:
    port = VirtualSerialPort(tmp_path / "ld.tty")
    text = (ROOT / "config" / "demo.toml").read_text().replace(
        'protocol = "mr60fda2"', 'protocol = "ld2410"').replace('"emulated:room_radar"', f'"{port.link}"').replace(
        'protocol = "mr60bha2"\nrole = "bed_radar"', 'protocol = "mr60bha2"\nrole = "bed_radar"')
    (tmp_path / "h.toml").write_text(text)
    cfg = load_config(tmp_path / "h.toml")
    dec = decoders_for(cfg)["room_radar"]
    out: Inbox = queue.Queue()
    stop = threading.Event()
    tr = SerialTransport(dec, str(port.link), 256000, SystemClock(), out, stop, startup=ld2410.STARTUP)
    th = threading.Thread(target=tr.run, daemon=True)
    th.start()
    try:
        got = b""
        end = time.monotonic() + 5
        while time.monotonic() < end and len(got) < sum(map(len, ld2410.STARTUP)):
            got += port.read_available()
            time.sleep(0.02)
        assert got == b"".join(ld2410.STARTUP)
        port.write(ld2410.ack_frame(0x00A0, 0, bytes.fromhex("000001070116150922")[:8]))
        assert wait_for(lambda: out.qsize() >= 1)
        ack = out.get()
        assert isinstance(ack, ld2410.LD2410Ack) and ack.command == 0x00A0
    finally:
        stop.set()
        th.join(timeout=3)
        port.close()


def _cli_emulator(port: VirtualSerialPort, stop: threading.Event, refuse: str | None = None) -> list[str]:
    seen: list[str] = []

    def serve() -> None:
        buf = b""
        while not stop.is_set():
            buf += port.read_available()
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                text = line.decode().strip()
                seen.append(text)
                reply = "Error -1" if refuse and text.startswith(refuse) else "Done"
                port.write(f"{text}\r\n{reply}\r\nmmwDemo:/>".encode())
            time.sleep(0.005)

    threading.Thread(target=serve, daemon=True).start()
    return seen


def test_ti_chirp_configuration_goes_over_the_cli_port(tmp_path: Path) -> None:
    cli = VirtualSerialPort(tmp_path / "cli.tty")
    cfg = tmp_path / "vs.cfg"
    cfg.write_text("% vital signs\nsensorStop\nflushCfg\ndfeDataOutputMode 1\nchannelCfg 15 3 0\nsensorStart\n")
    stop = threading.Event()
    seen = _cli_emulator(cli, stop)
    try:
        assert send_chirp_config(str(cli.link), cfg) == 5
        assert seen == ["sensorStop", "flushCfg", "dfeDataOutputMode 1", "channelCfg 15 3 0", "sensorStart"]
    finally:
        stop.set()
        cli.close()
    cli2 = VirtualSerialPort(tmp_path / "cli2.tty")
    stop2 = threading.Event()
    _cli_emulator(cli2, stop2, refuse="channelCfg")
    try:
        with pytest.raises(ChirpConfigError, match="line 4 \\(channelCfg\\)"):
            send_chirp_config(str(cli2.link), cfg)
    finally:
        stop2.set()
        cli2.close()


@pytest.mark.skipif(not TI_FILE.exists(), reason="../shared/data is not present (it is never committed)")
def test_replay_of_the_ti_capture_yields_one_reading_per_frame(tmp_path: Path) -> None:
    data = TI_FILE.read_bytes()
    cap = tmp_path / "ti.jsonl"
    with cap.open("w") as fh:  # as a serial read would return it: a few hundred bytes at a time, 20 frames/s
        for i, off in enumerate(range(0, len(data), 384)):
            fh.write(json.dumps({"t": round(i * 384 / 256 / 20, 3), "sensor": "vs", "hex": data[off:off + 384].hex()})
                     + "\n")
    res = subprocess.run(eldergate_cmd("replay", str(cap), "--sensor", "vs=ti-mmwave", "--readings", "--json"),
                         capture_output=True, text=True, env=clean_env(), timeout=60)
    assert res.returncode == 0, res.stderr
    readings = [json.loads(x) for x in res.stdout.splitlines() if '"record":"reading"' in x]
    assert len(readings) == 300 and {r["name"] for r in readings} == {"ti_vital_signs"}
    assert [r["frame"] for r in readings] == list(range(663, 963))
    assert readings[0]["value"] == pytest.approx(39.3006, abs=1e-4) and readings[0]["unit"] == "mm"


def test_garbage_on_a_line_shows_as_degraded_once_and_clears(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    bed_port = VirtualSerialPort(tmp_path / "bed.tty")
    room_port = VirtualSerialPort(tmp_path / "room.tty")
    gw = Gateway(load_config(_config(tmp_path, check_in="1h")), [], tick_s=0.05, health_window_s=0.5)
    gw.start()
    core = threading.Thread(target=gw.run, daemon=True)
    core.start()
    bed = FrameEmulator(bed_port, encode_reading)
    try:
        for _ in range(600):  # until the gateway has the port open and reads it
            bed.send(Presence(present=True))
            if gw.decoders["bed_radar"].stats.frames > 0:
                break
            time.sleep(0.05)

        def garbage_until(pred: Callable[[], bool]) -> bool:
            for _ in range(200):
                bed_port.write(bytes(range(0x10, 0x90)) * 4)  # no start byte in it: all dropped
                if pred():
                    return True
                time.sleep(0.05)
            return False

        assert garbage_until(lambda: gw.sensor_status()["bed_radar"] == "degraded")
        for _ in range(200):  # clean frames again
            bed.send(Presence(present=True), Distance(distance_m=0.6))
            if gw.sensor_status()["bed_radar"] == "ok":
                break
            time.sleep(0.05)
        assert gw.sensor_status()["bed_radar"] == "ok"
        assert gw.sensor_status()["room_radar"] == "ok"  # the other line was never noisy
        noisy = [r for r in caplog.records if "noisy line" in r.getMessage()]
        assert len(noisy) == 1 and "bed_radar" in noisy[0].getMessage()  # logged once, not per frame
    finally:
        gw.stop()
        core.join(timeout=10)
        bed_port.close()
        room_port.close()
