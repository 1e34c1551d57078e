"""The platform operator's fleet page, the release bundles the boxes fetch, and a rollout's rules
on the server's own clock (work/rollouts.py): a canary whose home has an alert open waits without
halting anything; a canary that restarts after it confirmed halts the rollout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.test import Client
from django.urls import reverse

from community_world import World

T0 = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
URL = "http://127.0.0.1:8000"  # the server's public address, for the upload addresses it sends


class Publisher:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def publish(self, topic: str, payload: str, qos: int = 1, retain: bool = False) -> bool:
        self.sent.append((topic, payload))
        return True


def _release(db: Any, version: str = "0.3.0") -> Any:
    from eldergate.community.models import Release

    folder = db.resolve(db.fleet.releases_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"eldergate-{version}.zip").write_bytes(b"PK signed bundle")
    return Release.objects.create(version=version, sha256="0" * 64, size=16, created_at=T0)


def test_the_fleet_page_is_the_operators_and_lists_every_box(world: World, db: Any) -> None:
    from eldergate.community.models import Gateway

    Gateway.objects.filter(site="kz").update(version="0.2.9", update_version="0.3.0", update_state="rolled_back",
                                             update_reason="it exited with status 1 before it was healthy")
    c = Client()
    c.force_login(world.sides["kz"].users["platform-operator"])
    page = c.get(reverse("fleet")).content.decode()
    assert 'data-gateway="kz/gw1"' in page and 'data-gateway="other/gw1"' in page
    assert 'data-version="0.2.9"' in page and "rolled_back: it exited with status 1" in page
    for role in ("community-admin", "grid-worker", "installer"):
        c.force_login(world.sides["kz"].users[role])
        assert c.get(reverse("fleet")).status_code == 403


def test_a_bundle_is_served_to_anyone_and_an_unknown_one_is_not_found(world: World, db: Any) -> None:
    _release(db)
    c = Client()
    r = c.get(reverse("release-bundle", args=["0.3.0"]))
    assert r.status_code == 200 and b"".join(r.streaming_content) == b"PK signed bundle"
    assert c.get(reverse("release-bundle", args=["9.9.9"])).status_code == 404
    assert c.get("/releases/eldergate-..%2F..%2Fcommunity.toml.zip").status_code == 404


def test_a_canary_busy_with_an_alert_waits_and_one_that_restarts_after_confirming_halts(world: World, db: Any) -> None:
    from eldergate.community.ingest.store import store
    from eldergate.community.models import Gateway, Rollout, RolloutTarget
    from eldergate.community.work import rollouts

    from community_world import alert_payload

    release = _release(db)
    pub = Publisher()
    r = rollouts.start(release, 100, 1, 30, "test", T0)  # both boxes are canaries
    kz = Gateway.objects.get(site="kz")
    store("alerts", "kz", "gw1", alert_payload("kz", "gw1", "a1", t=T0.timestamp()), T0, db)
    assert rollouts.tick(T0, pub, "eldergate/v1", "https://c.example") == 1  # only the other box is asked
    assert pub.sent[0][0] == "eldergate/v1/other/gw1/cmd" and "https://c.example/releases/eldergate-0.3.0.zip" in \
        pub.sent[0][1]
    started = T0 - timedelta(minutes=1)
    Gateway.objects.filter(site="other").update(version="0.3.0", update_version="0.3.0", update_state="confirmed",
                                                status="online", started_at=started)
    rollouts.tick(T0 + timedelta(seconds=5), pub, "eldergate/v1", "https://c.example")
    rollouts.tick(T0 + timedelta(seconds=60), pub, "eldergate/v1", "https://c.example")
    r.refresh_from_db()
    assert r.state == "running"  # kz waits for its alert, past the check: that halts nothing
    assert RolloutTarget.objects.get(gateway=kz).result == rollouts.OPEN_ALERT
    Gateway.objects.filter(site="other").update(started_at=T0 + timedelta(seconds=61))  # a watchdog reset
    rollouts.tick(T0 + timedelta(seconds=62), pub, "eldergate/v1", "https://c.example")
    r.refresh_from_db()
    assert r.state == "halted" and "other/gw1 restarted after it confirmed 0.3.0" in r.reason
    assert Rollout.objects.filter(state="running").count() == 0


def test_a_diagnostics_command_is_answered_by_the_boxs_report(world: World, db: Any) -> None:
    import json

    from eldergate.community.ingest.store import store
    from eldergate.community.models import BoxCommand
    from eldergate.community.work import box_commands

    from community_world import api

    g = world.sides["kz"].gateway
    status, cmd = api(world.sides["kz"].tokens["community-admin"], "POST", f"/gateways/{g.pk}/commands",
                      {"command": "diagnostics"})
    assert status == 202
    pub = Publisher()
    assert box_commands.send_due(pub, "eldergate/v1", T0, URL) == 1 and '"diagnostics"' in pub.sent[0][1]
    report = {"checks_ok": False, "version": "0.3.0", "uplink": True, "findings": "",
              "sensor:bed_radar": "silent, 0 frames, 0 bad checksums, 0 malformed, 0 restarts",
              "sensor:door": "ok, 12 frames, 0 bad checksums, 0 malformed, 0 restarts"}
    event = {"v": 1, "site": "kz", "gateway": "gw1", "sent_at": T0.timestamp() + 2, "t": T0.timestamp() + 2,
             "name": "diagnostics", "resident": "", "details": report}
    store("events", "kz", "gw1", json.dumps(event).encode(), T0 + timedelta(seconds=2), db)
    assert box_commands.settle(T0 + timedelta(seconds=3)) == 1
    done = BoxCommand.objects.get(pk=cmd["id"])
    assert done.ok is False and "sensors: bed_radar silent" in done.result and done.report == report
    _, listed = api(world.sides["kz"].tokens["community-admin"], "GET", f"/gateways/{g.pk}/commands")
    assert listed[0]["report"]["sensor:door"].startswith("ok")


def test_boxes_held_by_an_alert_never_take_a_whole_tick(world: World, db: Any, monkeypatch: Any) -> None:
    from eldergate.community.ingest.store import store
    from eldergate.community.models import RolloutTarget
    from eldergate.community.work import rollouts

    from community_world import alert_payload

    monkeypatch.setattr(rollouts, "SEND_PER_TICK", 1)
    release = _release(db)
    rollouts.start(release, 100, 1, 30, "test", T0)
    store("alerts", "kz", "gw1", alert_payload("kz", "gw1", "a1", t=T0.timestamp()), T0, db)
    pub = Publisher()
    for s in range(3):
        rollouts.tick(T0 + timedelta(seconds=2 * s), pub, "eldergate/v1", "https://c.example")
    assert [t for t, _ in pub.sent] == ["eldergate/v1/other/gw1/cmd"]
    assert RolloutTarget.objects.get(gateway__site="kz").state == "waiting"
