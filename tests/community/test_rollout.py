"""A staged rollout from the outside (docs/deploy-city.md, "Software updates"): a real server and
Mosquitto, 20 contract-level boxes that answer an update as a real box ends up answering it
(kept and confirmed, or rolled back by itself: tests/test_updates.py shows a real box doing both),
signed bundles made from the project's own wheel and added through the CLI.

- A release every box rolls back: the canary (5 %: one box) reports it, the rollout halts, and
  none of the other 19 boxes is ever asked.
- A good release: the canary, then two waves, every box confirms it, each asked once; a box
  whose home has an open alert is not asked until a person resolves the alert.
- A bundle whose signature does not match the server's release key is refused by `release add`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from releases import project_wheel, retag

from eldergate.contract.releases import build, new_key

from broker import Mosquitto
from community_proc import CommunityServer, community
from contract_gateways import FleetOnThread
from testutil import wait_for

pytestmark = [pytest.mark.broker, pytest.mark.slow]
BOXES = 20


def _registry(path: Path, boxes: list[Any]) -> Path:
    rows = ["community,address,site,gateway,resident_id,name,birth_year"]
    rows += [f"s1,幸福路 {i} 号,{b.site},{b.gid},r1,住户{i},1938" for i, b in enumerate(boxes)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_a_rollout_halts_at_a_failing_canary_and_a_good_one_reaches_every_box(
        tmp_path: Path, mosquitto: Mosquitto) -> None:
    private, public = new_key()
    wheels = tmp_path / "wheels"
    wheel = project_wheel(wheels)
    build(retag(wheel, "0.2.0", wheels), private, tmp_path / "eldergate-0.2.0.zip")
    build(retag(wheel, "0.2.1", wheels), private, tmp_path / "eldergate-0.2.1.zip")
    build(retag(wheel, "0.2.2", wheels), new_key()[0], tmp_path / "forged-0.2.2.zip")

    folder = tmp_path / "server"
    assert community("init", str(folder), "--community", "s1", "--street", "新街", cwd=tmp_path).returncode == 0
    (folder / "release.pub").write_bytes(public)
    toml = folder / "community.toml"
    toml.write_text(toml.read_text() + '\n[fleet]\nrelease_public_key_file = "release.pub"\n')
    cfg = ("--config", str(toml))
    op = community("create-user", "ops", "--role", "platform-operator", "--token", *cfg, cwd=tmp_path)
    token = op.stdout.strip().splitlines()[-1]
    admin = community("create-user", "wang", "--role", "community-admin", "--community", "s1", "--token", *cfg,
                      cwd=tmp_path).stdout.strip().splitlines()[-1]
    boxes = FleetOnThread(BOXES, mosquitto.url, start_within=1.0)
    imported = community("import-residents", str(_registry(tmp_path / "r.csv", boxes.boxes)), *cfg, cwd=tmp_path)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    for name in ("eldergate-0.2.0.zip", "eldergate-0.2.1.zip"):
        added = community("release", "add", str(tmp_path / name), *cfg, cwd=tmp_path)
        assert added.returncode == 0, added.stderr
    forged = community("release", "add", str(tmp_path / "forged-0.2.2.zip"), *cfg, cwd=tmp_path)
    assert forged.returncode == 2 and "the signature does not match the release key" in forged.stderr

    server = CommunityServer(folder, mosquitto.url, extra=cfg).start()
    try:
        assert wait_for(server.ingesting, 30, 0.1)
        boxes.start()
        for b in boxes.boxes:
            b.broken_releases.add("0.2.0")

        def rollout() -> dict[str, Any]:
            out = community("rollout", "status", *cfg, cwd=tmp_path)
            return dict(json.loads(out.stdout.splitlines()[0]))

        def asked(release: str) -> int:
            return sum(b.update_commands.count(release) for b in boxes.boxes)

        # the check windows leave a loaded machine seconds for a box's answer to come back: the canary
        # that has not confirmed within the window halts the rollout (community/work/rollouts.py)
        started = community("rollout", "start", "0.2.0", "--canary", "5", "--waves", "3", "--check", "20s", *cfg,
                            cwd=tmp_path)
        assert started.returncode == 0, started.stderr
        assert wait_for(lambda: rollout()["state"] == "halted", 60, 0.5), rollout()
        assert "rolled_back" in rollout()["reason"] and "canary" in rollout()["reason"]
        assert asked("0.2.0") == 1  # the canary alone: the other 19 untouched
        assert all(b.software == "load" for b in boxes.boxes)

        held = boxes.boxes[7]  # its home has an open alert: it is asked only once a person resolved it
        aid = boxes.call(lambda: held.raise_alert())
        assert wait_for(lambda: aid in boxes.call(lambda: set(held.fig.receipted)), 30, 0.1)
        started = community("rollout", "start", "0.2.1", "--canary", "10", "--waves", "2", "--check", "6s", *cfg,
                            cwd=tmp_path)
        assert started.returncode == 0, started.stderr
        assert wait_for(lambda: sum(b.software == "0.2.1" for b in boxes.boxes) == BOXES - 1, 90, 0.5), \
            rollout()["reason"]
        assert held.update_commands.count("0.2.1") == 0 and rollout()["state"] == "running"
        ref = next(a["ref"] for a in server.all_alerts(token) if a["id"] == aid)
        assert server.api(admin, f"/alerts/{ref}/resolve", "POST", {"outcome": "resident_fine"})["state"] == "resolved"
        assert wait_for(lambda: rollout()["state"] == "done", 60, 0.5), rollout()
        assert [asked("0.2.1")] == [BOXES] and held.software == "0.2.1"  # each box asked once
        listed = server.api(token, "/gateways")
        assert len(listed) == BOXES and {g["software_version"] for g in listed} == {"0.2.1"}
        assert {g["update_state"] for g in listed} == {"confirmed"}
    finally:
        boxes.stop()
        server.stop()
