"""A diagnostic capture from a real box (`eldergate run`) to the real server, through Mosquitto (#34):
a community admin asks for the box's last minutes of capture; the box posts it to the one-time
address; the admin downloads it and it holds the bed radar's frames as they came over the serial
line, every raw waveform frame withheld. With the resident's consent recorded, the same question
with raw waveforms brings the waveforms too. A pty carries the MR60BHA2's real wire format."""

from __future__ import annotations

import gzip
import json
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from eldergate.drivers.protocols import stream_parser
from eldergate.drivers.readings import ChestDisplacement, DeviceVitals, Presence, Reading
from eldergate.drivers.seeed_tinyframe import encode_reading
from eldergate.gateway.tools.emulation import FrameEmulator, VirtualSerialPort

from broker import Mosquitto
from community_proc import CommunityServer, community
from gateway_proc import GatewayProcess, write_config
from testutil import wait_for

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def _box(tmp: Path, mosquitto: Mosquitto, port: Path) -> GatewayProcess:
    cfg = write_config(tmp / "gw1.toml", mosquitto.url, mosquitto.url, tmp / "state")
    cfg.write_text(cfg.read_text() + '[[sensors]]\nid = "bed_radar"\nprotocol = "mr60bha2"\nrole = "bed_radar"\n'
                   f'room = "kitchen"\nserial = {{ port = "{port}" }}\n'
                   'placement = { mounting_height_m = 1.2, bed_distance_m = [0.3, 1.3] }\n')
    return GatewayProcess(cfg, tmp / "gw1.log").start()


def _download(server: CommunityServer, token: str, gateway: int, command: int) -> list[dict[str, Any]]:
    req = urllib.request.Request(f"{server.base}/api/v1/gateways/{gateway}/commands/{command}/capture",
                                 headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return [json.loads(x) for x in gzip.decompress(r.read()).decode().splitlines()]


def _bed_readings(lines: list[dict[str, Any]]) -> list[Reading]:
    parser = stream_parser("mr60bha2", {})
    return [r for x in lines if x.get("sensor") == "bed_radar" for r in parser.feed(bytes.fromhex(x["hex"]))]


def test_a_box_sends_its_last_minutes_waveforms_only_with_consent(tmp_path: Path, mosquitto: Mosquitto) -> None:
    folder = tmp_path / "server"
    assert community("init", str(folder), "--community", "s1", "--street", "新街", cwd=tmp_path).returncode == 0
    cfg = ("--config", str(folder / "community.toml"))
    admin = community("create-user", "wang", "--role", "community-admin", "--community", "s1", "--token", *cfg,
                      cwd=tmp_path).stdout.strip().splitlines()[-1]
    homes = tmp_path / "homes.csv"
    homes.write_text("community,address,site,gateway,resident_id,name,birth_year\ns1,幸福路 1 号,s1,gw1,r1,住户,1938\n",
                     encoding="utf-8")
    assert community("import-residents", str(homes), *cfg, cwd=tmp_path).returncode == 0

    bed = VirtualSerialPort(tmp_path / "bed.tty")
    emulator = FrameEmulator(bed, encode_reading)
    stop = threading.Event()
    written = {"heart": 0}

    def radar() -> None:  # the MR60BHA2 over the bed: its phase waveform, its heart rate, presence
        while not stop.is_set():
            emulator.send(ChestDisplacement(value=0.3, unit="au", breath=0.1, heart=0.02), Presence(present=True))
            emulator.send(DeviceVitals(heart_rate_bpm=68.0))
            written["heart"] += 1
            time.sleep(0.05)  # pace: twenty frames a second, as the device sends them

    threading.Thread(target=radar, daemon=True).start()
    server = CommunityServer(folder, mosquitto.url, extra=cfg).start()
    box = _box(tmp_path, mosquitto, bed.link)
    try:
        assert wait_for(server.ingesting, 30, 0.1)
        [gw] = server.api(admin, "/gateways")
        # the box reads the bed radar (its status says so): from here on it reads every frame
        assert wait_for(lambda: server.api(admin, "/gateways")[0]["sensors"].get("bed_radar") == "ok", 60, 0.2)
        written["heart"] = 0
        assert wait_for(lambda: written["heart"] >= 40, 30, 0.1)

        def asked(body: dict[str, Any]) -> dict[str, Any]:
            cmd = server.api(admin, f"/gateways/{gw['id']}/commands", "POST", {"command": "diagnostics", **body})

            def arrived() -> dict[str, Any] | None:
                row = next(c for c in server.api(admin, f"/gateways/{gw['id']}/commands") if c["id"] == cmd["id"])
                return row if row["capture_received_at"] and row["done_at"] else None

            assert wait_for(lambda: arrived() is not None, 60, 0.2), box.log.read_text()[-2000:]
            row = arrived()
            assert row is not None
            return row

        row = asked({"capture": True})
        assert "raw waveforms withheld" in row["report"]["capture"] and row["ok"] is not None
        lines = _download(server, admin, gw["id"], row["id"])
        meta = lines[0]["meta"]
        assert meta["raw_waveforms"] is False and meta["sensors"]["bed_radar"] == "mr60bha2"
        readings = _bed_readings(lines)
        assert not any(r.raw_waveform for r in readings)  # no waveform left the box
        hearts = sum(isinstance(r, DeviceVitals) for r in readings)
        assert hearts >= 40 and meta["withheld_frames"] >= hearts  # a phase frame went with every heart frame

        with pytest.raises(urllib.error.HTTPError) as refused:
            asked({"raw_waveforms": True})
        assert refused.value.code == 403
        resident = server.api(admin, "/residents")[0]["id"]
        server.api(admin, f"/residents/{resident}/consents", "POST", {"scope": "raw_waveforms", "given_by": "本人"})
        row = asked({"raw_waveforms": True})
        raw = _download(server, admin, gw["id"], row["id"])
        assert raw[0]["meta"]["raw_waveforms"] is True and raw[0]["meta"]["withheld_frames"] == 0
        waveforms = [r for r in _bed_readings(raw) if isinstance(r, ChestDisplacement)]
        assert len(waveforms) >= 40 and waveforms[-1].breath == pytest.approx(0.1)
    finally:
        stop.set()
        box.stop()
        server.stop()
