"""The server's registry is each home's source of truth (#34), from the outside: a contact's phone
changed through the API reaches 100 contract-level boxes and 2 real ones (`eldergate run`), each
reporting the version it applied; a threshold the box's own schema refuses is reported with the
field while the box keeps its last good version (and still raises alerts); a box that was off
when its resident's night hours changed applies them when it comes back. Real Mosquitto, real
server, counted at the boxes and read back through GET /api/v1/gateways."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from broker import Mosquitto
from community_path import Injector, gateway_process
from community_proc import CommunityServer, community
from contract_gateways import FleetOnThread
from testutil import wait_for

pytestmark = [pytest.mark.broker, pytest.mark.slow]
BOXES = 100
REAL = ("gw1", "gw2")


def _registry(path: Path, boxes: list[Any]) -> Path:
    rows = ["community,address,site,gateway,resident_id,name,birth_year,grid_worker,contact1_name,contact1_phone,"
            "contact1_role,contact1_consent"]
    homes = [("s1", gw) for gw in REAL] + [(b.site, b.gid) for b in boxes]
    rows += [f"s1,幸福路 {i} 号,{site},{gw},r1,住户{i},1938,li,儿子,13900000000,child,yes"
             for i, (site, gw) in enumerate(homes)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _gateways(server: CommunityServer, token: str) -> dict[str, dict[str, Any]]:
    return {g["gateway"]: g for g in server.api(token, "/gateways")}


def _in_step(server: CommunityServer, token: str, version: int) -> bool:
    gws = _gateways(server, token)
    return len(gws) == BOXES + len(REAL) and all(
        g["config_desired_version"] == version and g["config_applied_version"] == version for g in gws.values())


def _stored(tmp: Path, gw: str) -> dict[str, Any]:
    path = tmp / f"state-{gw}" / "server-config.json"
    return dict(json.loads(path.read_text())) if path.exists() else {}


def test_the_registry_reaches_every_box_refusals_are_reported_and_an_offline_box_catches_up(
        tmp_path: Path, mosquitto: Mosquitto) -> None:
    folder = tmp_path / "server"
    assert community("init", str(folder), "--community", "s1", "--street", "新街", cwd=tmp_path).returncode == 0
    cfg = ("--config", str(folder / "community.toml"))
    worker = community("create-user", "li", "--role", "grid-worker", "--community", "s1", "--token", *cfg,
                       cwd=tmp_path).stdout.strip().splitlines()[-1]
    ops = community("create-user", "ops", "--role", "platform-operator", "--token", *cfg,
                    cwd=tmp_path).stdout.strip().splitlines()[-1]
    boxes = FleetOnThread(BOXES, mosquitto.url, start_within=2.0)
    imported = community("import-residents", str(_registry(tmp_path / "homes.csv", boxes.boxes)), *cfg, cwd=tmp_path)
    assert imported.returncode == 0, imported.stdout + imported.stderr

    server = CommunityServer(folder, mosquitto.url, extra=cfg).start()
    real = {gw: gateway_process(tmp_path, mosquitto, gw) for gw in REAL}
    inj = Injector(mosquitto)
    try:
        for g in real.values():
            g.wait_subscribed()
        boxes.start()
        assert wait_for(lambda: len(_gateways(server, ops)) == BOXES + len(REAL), 30, 0.2)
        assert all(g["config_desired_version"] == 0 for g in _gateways(server, ops).values())  # nothing sent yet
        residents = {r["home"]: r for r in server.api(worker, "/residents")}
        homes = {g["gateway"]: g["home"] for g in _gateways(server, ops).values()}

        # a contact's phone changes for every resident (by their grid worker, through the API)
        t0 = time.monotonic()
        for r in residents.values():
            out = server.api(worker, f"/residents/{r['id']}", "PATCH", {"contacts": [
                {"order": 1, "name": "儿子", "phone": "13900000001", "role": "child", "consent_to_call": True,
                 "notify_url": f"json://127.0.0.1:9/{r['id']}"}]})
            assert out["config_desired_version"] == 1 and out["contacts"][0]["phone"] == "13900000001"
        assert wait_for(lambda: _in_step(server, ops, 1), 90, 0.2), \
            [g for g in _gateways(server, ops).values() if g["config_applied_version"] != 1][:3]
        print(f"a contact change reached {BOXES + len(REAL)} boxes in {time.monotonic() - t0:.1f} s")
        assert boxes.fig.configs_applied == BOXES
        sent = boxes.boxes[0].config
        assert sent["residents"][0]["contacts"][0]["phone"] == "13900000001"  # type: ignore[index]
        assert "儿子" not in json.dumps(sent, ensure_ascii=False)  # ids, not names, over MQTT
        for gw, proc in real.items():
            assert _stored(tmp_path, gw)["version"] == 1
            assert proc.proc is not None and proc.proc.poll() is None  # restarted in place, same process
            assert "restarting in place" in proc.log.read_text()

        # a threshold the box's own schema refuses (its minimum above its maximum)
        gw1 = residents[homes["gw1"]]
        server.api(worker, f"/residents/{gw1['id']}", "PATCH", {"thresholds": {"heart_rate_min_bpm": 130}})

        def refused() -> bool:
            g = _gateways(server, ops)["gw1"]
            return bool(g["config_refused_version"] == 2 and g["config_applied_version"] == 1)
        assert wait_for(refused, 30, 0.2), _gateways(server, ops)["gw1"]
        why = _gateways(server, ops)["gw1"]["config_refused"]
        assert "heart_rate_min_bpm" in why and "thresholds" in why, why
        assert _stored(tmp_path, "gw1")["version"] == 1  # the last good one is kept
        inj.send("zigbee2mqtt/gw1-leak0", True)  # and the box works on it

        def leak_alert() -> bool:
            return any(a["gateway"] == "gw1" and a["kind"] == "water_leak" for a in server.all_alerts(worker))
        assert wait_for(leak_alert, 60, 0.5), real["gw1"].log.read_text()[-2000:]

        # a box that is off when its resident's night hours change applies them when it is back
        assert real["gw2"].stop() == 0
        gw2 = residents[homes["gw2"]]
        out = server.api(worker, f"/residents/{gw2['id']}", "PATCH", {"night_start": "23:00"})
        assert out["config_desired_version"] == 2 and out["thresholds"]["night_start"] == "23:00:00"
        assert _gateways(server, ops)["gw2"]["config_applied_version"] == 1
        real["gw2"].start()
        assert wait_for(lambda: _gateways(server, ops)["gw2"]["config_applied_version"] == 2, 60, 0.2), \
            real["gw2"].log.read_text()[-2000:]
        stored = _stored(tmp_path, "gw2")
        assert stored["version"] == 2 and stored["residents"][0]["thresholds"]["night_start"] == "23:00:00"

        # commands from afar, audited, answered by the box itself: a test alert end to end, a restart
        box = _gateways(server, ops)["gw1"]
        pid = real["gw1"].proc.pid if real["gw1"].proc else None
        for command in ("test_alert", "restart"):
            made = server.api(ops, f"/gateways/{box['id']}/commands", "POST", {"command": command})
            assert made["ok"] is None and made["by"] == "ops"

        def answered() -> list[dict[str, Any]]:
            return list(server.api(ops, f"/gateways/{box['id']}/commands"))
        assert wait_for(lambda: all(c["ok"] is not None for c in answered()), 90, 0.5), \
            (answered(), server.log.read_text()[-3000:], real["gw1"].log.read_text()[-3000:])
        assert all(c["ok"] for c in answered()), answered()
        assert {c["command"] for c in answered()} == {"test_alert", "restart"}
        assert real["gw1"].proc is not None and real["gw1"].proc.pid == pid and real["gw1"].proc.poll() is None
        assert "asked for a restart" in real["gw1"].log.read_text()
        try:
            server.api(worker, f"/gateways/{box['id']}/commands", "POST", {"command": "restart"})
            raise AssertionError("a grid worker restarted a box")
        except Exception as err:
            assert getattr(err, "code", None) == 403, err

        # a change nobody may make: a relative's or an installer's token is refused, nothing moves
        denied = community("create-user", "wang", "--role", "installer", "--community", "s1", "--token", *cfg,
                           cwd=tmp_path).stdout.strip().splitlines()[-1]
        try:
            server.api(denied, f"/residents/{gw2['id']}", "PATCH", {"night_start": "20:00"})
            raise AssertionError("an installer changed a resident's night hours")
        except Exception as err:
            assert getattr(err, "code", None) in (403, 404), err
        assert _gateways(server, ops)["gw2"]["config_desired_version"] == 2
    finally:
        inj.close()
        boxes.stop()
        for g in real.values():
            if g.proc is not None and g.proc.poll() is None:
                g.stop()
        server.stop()
