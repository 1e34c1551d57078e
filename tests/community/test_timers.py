"""Escalation, offline homes, the test round and retention, on a clock the test moves by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from community_world import World, alert_payload, api

# 10:00 in Shanghai (day ladder) and 02:00 in Shanghai (night ladder)
DAY = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)
NIGHT = datetime(2026, 11, 28, 18, 0, tzinfo=UTC)


class Clock:
    def __init__(self, t: datetime) -> None:
        self.t = t

    def at(self, seconds: float) -> datetime:
        return self.t + timedelta(seconds=seconds)


def _notifier() -> Any:
    from eldergate.community.work.notify import RecordingNotifier

    return RecordingNotifier()


def _who(notifier: Any) -> list[list[str]]:
    return [[u.rsplit("/", 1)[1] for u in urls] for urls, _push in notifier.sent]


def _store(cfg: Any, alert_id: str, now: datetime, **kw: Any) -> None:
    from eldergate.community.ingest.store import store

    store("alerts", "kz", "gw1", alert_payload("kz", "gw1", alert_id, t=now.timestamp(), **kw), now, cfg)


def test_the_day_ladder_runs_its_steps_in_order_then_reminds(world: World, db: Any) -> None:
    from eldergate.community.work import escalation

    n = _notifier()
    c = Clock(DAY)
    _store(db, "a1", DAY)
    assert escalation.tick(c.at(0), db, n) == 1
    assert escalation.tick(c.at(60), db, n) == 0
    assert escalation.tick(c.at(120), db, n) == 1
    assert escalation.tick(c.at(300), db, n) == 1
    assert escalation.tick(c.at(600), db, n) == 1
    assert _who(n) == [["kz-grid-worker"], ["kz-community-admin"], ["kz-community-admin"],
                       ["kz-son", "kz-relative"]]  # the duty worker by day is the admin; relatives last
    assert escalation.tick(c.at(1199), db, n) == 0
    assert escalation.tick(c.at(1200), db, n) == 1  # reminders until someone acknowledges
    assert "提醒" in n.sent[-1][1].title
    assert n.sent[0][1].link.endswith("/console/alerts/kz.gw1.a1")
    assert "杜秀英" in n.sent[0][1].body


def test_the_ladder_skips_the_steps_whose_people_the_gateway_paged(world: World, db: Any) -> None:
    """docs/alert-lifecycle.md, "Who is paged": an alert its box paged the grid worker and the
    relatives for (the server could not be reached) reaches the others only; a resend saying the
    box has paged the duty desk since stops that step too. Nobody is paged twice for one step."""
    from eldergate.community.models import Alert, EscalationJob
    from eldergate.community.work import escalation

    n = _notifier()
    c = Clock(DAY)
    _store(db, "a1", DAY, paged=["grid_worker", "relative"])
    assert escalation.tick(c.at(0), db, n) == 0  # step 0: the grid worker, paged by the box
    _store(db, "a1", c.at(60), paged=["duty_desk", "grid_worker", "relative"])  # a resend, the box paged on
    for s in (120, 300, 600):
        escalation.tick(c.at(s), db, n)
    assert _who(n) == [["kz-community-admin"]]  # only the step the box cannot take
    steps = dict(EscalationJob.objects.values_list("target", "result"))
    assert steps["assigned"] == steps["relatives"] == steps["duty"] == escalation.PAGED_BY_GATEWAY
    a = Alert.objects.get(alert_id="a1")
    assert a.paged_by_gateway == ["duty_desk", "grid_worker", "relative"]
    assert {"box paged grid_worker", "box paged relative", "box paged duty_desk"} <= set(
        a.history.values_list("state", flat=True))  # the alert's page says whom the box paged


def test_a_copy_older_than_its_boxs_paging_waits_a_minute_for_a_fresh_one(world: World, db: Any) -> None:
    """The server was down: the broker hands it the alert's first copy, sent before the box's
    handover time (45 s), which has passed. The box has probably paged since; its fresh copy says
    whom. Without a fresh copy, the held steps go out a minute later."""
    from eldergate.community.ingest.store import store
    from eldergate.community.work import escalation

    n = _notifier()
    c = Clock(DAY)
    raised = DAY.timestamp() - 100
    store("alerts", "kz", "gw1", alert_payload("kz", "gw1", "a1", t=raised, handover_s=45), DAY, db)
    store("alerts", "kz", "gw1", alert_payload("kz", "gw1", "a2", t=raised, handover_s=45), DAY, db)
    assert escalation.tick(c.at(0), db, n) == 0  # both wait for their box's word
    store("alerts", "kz", "gw1", alert_payload("kz", "gw1", "a1", t=raised, sent_at=raised + 110, handover_s=45,
                                               paged=["grid_worker"]), c.at(10), db)
    assert escalation.tick(c.at(59), db, n) == 0
    assert escalation.tick(c.at(60), db, n) == 1  # a2: no fresh copy came; its grid worker, a minute late
    assert _who(n) == [["kz-grid-worker"]]
    assert escalation.tick(c.at(120), db, n) == 2  # the duty step of each (the admin by day)
    assert _who(n)[1:] == [["kz-community-admin"], ["kz-community-admin"]]  # a1's grid worker: paged by its box


def test_an_acknowledgement_between_two_steps_stops_the_rest(world: World, db: Any) -> None:
    from eldergate.community.models import EscalationJob
    from eldergate.community.work import escalation

    n = _notifier()
    c = Clock(DAY)
    _store(db, "a1", DAY)
    escalation.tick(c.at(0), db, n)
    assert api(world.sides["kz"].tokens["grid-worker"], "POST", "/alerts/a1/acknowledge")[0] == 200
    for s in (120, 300, 600, 1200, 5000):
        assert escalation.tick(c.at(s), db, n) == 0
    assert len(n.sent) == 1
    assert set(EscalationJob.objects.exclude(step=0).values_list("result", flat=True)) == {
        "stopped: acknowledged by kz-grid-worker"}


def test_receipt_does_not_stop_escalation_but_the_gateway_resolving_does(world: World, db: Any) -> None:
    from eldergate.community.work import escalation

    n = _notifier()
    c = Clock(DAY)
    _store(db, "a1", DAY)  # stored and receipted: nobody knows yet
    escalation.tick(c.at(0), db, n)
    escalation.tick(c.at(120), db, n)
    assert len(n.sent) == 2
    _store(db, "a1", c.at(130), state="resolved")  # she got up
    escalation.tick(c.at(300), db, n)
    assert len(n.sent) == 2


def test_the_night_ladder_goes_to_the_duty_worker_first(world: World, db: Any) -> None:
    from eldergate.community.work import escalation

    n = _notifier()
    _store(db, "a1", NIGHT)
    escalation.tick(NIGHT, db, n)
    assert _who(n) == [["kz-volunteer"]]  # on the night shift 22:00-07:00


def test_a_failed_push_is_tried_again_a_minute_later(world: World, db: Any) -> None:
    from eldergate.community.work import escalation

    n = _notifier()
    n.fail = True
    _store(db, "a1", DAY)
    assert escalation.tick(DAY, db, n) == 0
    n.fail = False
    assert escalation.tick(DAY + timedelta(seconds=30), db, n) == 0
    assert escalation.tick(DAY + timedelta(seconds=61), db, n) == 1


def _status(cfg: Any, state: str, now: datetime, retained: bool = False, site: str = "kz") -> None:
    from eldergate.community.ingest.store import store

    body = {"v": 1, "site": site, "gateway": "gw1", "sent_at": now.timestamp(), "state": state}
    store("status", site, "gw1", json.dumps(body).encode(), now, cfg, retained=retained)


def test_a_last_will_raises_home_offline_after_the_grace_and_only_a_fresh_message_clears_it(
        world: World, db: Any) -> None:
    from eldergate.community.models import Alert
    from eldergate.community.work import escalation, offline

    n = _notifier()
    c = Clock(DAY)
    _status(db, "online", c.at(0))
    _status(db, "offline", c.at(10))  # the will
    assert offline.check(c.at(100), db) == 0  # within the grace: a gateway restarting
    assert offline.check(c.at(131), db) == 1
    assert offline.check(c.at(200), db) == 0  # one alert, not one per check
    alert = Alert.objects.get(kind="home_offline")
    assert alert.community_id == world.sides["kz"].community.pk and alert.origin == "server"
    escalation.tick(c.at(131), db, n)
    assert _who(n) == [["kz-grid-worker"]]
    _status(db, "offline", c.at(300), retained=True)  # replayed at a resubscription: proves nothing
    _status(db, "online", c.at(310), retained=True)
    alert.refresh_from_db()
    assert alert.is_open
    _status(db, "online", c.at(400))  # fresh: back
    alert.refresh_from_db()
    assert not alert.is_open and alert.resolved_by == "server"
    _, homes = api(world.sides["kz"].tokens["grid-worker"], "GET", "/homes")
    assert homes[0]["gateways"][0]["online"] is True


def test_silence_raises_home_offline_even_without_a_will(world: World, db: Any) -> None:
    from eldergate.community.models import Alert
    from eldergate.community.work import escalation, offline

    c = Clock(DAY)
    _status(db, "online", c.at(0))  # online, then a half-open connection: nothing more arrives
    # silence_s 600, plus what last_seen may lag behind (a tenth of it: the ingest writes it that
    # seldom): never early, at most a minute late
    assert offline.check(c.at(659), db) == 0
    assert offline.check(c.at(661), db) == 2  # the other community's home fell silent too
    a = Alert.objects.get(kind="home_offline", gateway__site="kz")
    assert a.evidence["why"] == "silence"
    _, homes = api(world.sides["kz"].tokens["grid-worker"], "GET", "/homes")
    assert homes[0]["gateways"][0]["online"] is False
    # reminders follow the offline ladder: the admin after 30 min, then every 10 min
    n = _notifier()
    for s in (661, 2461, 3061):
        escalation.tick(c.at(s), db, n)
    kz = [w for w in _who(n) if w[0].startswith("kz-")]
    assert kz == [["kz-grid-worker"], ["kz-community-admin"], ["kz-community-admin"]]


def test_the_monthly_test_round_asks_each_home_and_sees_the_answer(world: World, db: Any) -> None:
    from eldergate.community.models import EscalationJob, Gateway
    from eldergate.community.work import offline

    sent: list[tuple[str, str]] = []

    class Pub:
        def publish(self, topic: str, payload: str, qos: int = 1, retain: bool = False) -> bool:
            sent.append((topic, payload))
            return True

    t = datetime(2026, 11, 29, tzinfo=UTC)
    assert offline.test_round(t + timedelta(days=29), db, Pub()) == 0
    assert offline.test_round(t + timedelta(days=30), db, Pub()) == 2  # both communities' homes
    assert sorted(tp for tp, _ in sent) == ["eldergate/v1/kz/gw1/cmd", "eldergate/v1/other/gw1/cmd"]
    assert json.loads(sent[0][1])["command"] == "test_alert"
    assert offline.test_round(t + timedelta(days=31), db, Pub()) == 0
    _store(db, "test-1", t + timedelta(days=30, seconds=5), kind="test", severity="info")
    assert Gateway.objects.get(site="kz").last_test_ok is not None
    assert not EscalationJob.objects.exists()  # a test pages nobody


def test_retention_removes_what_is_older_than_its_class_allows(world: World, db: Any) -> None:
    from eldergate.community.ingest.store import store
    from eldergate.community.models import Alert, AuditEntry, VitalsMinute
    from eldergate.community.work import retention

    old = DAY - timedelta(days=400)
    vit = {"v": 1, "site": "kz", "gateway": "gw1", "sent_at": old.timestamp(), "t": old.timestamp(),
           "resident": "r1", "heart_rate_bpm": 62, "breathing_rate_bpm": 14, "quality": 0.9}
    store("vitals", "kz", "gw1", json.dumps(vit).encode(), old, db)
    ancient = DAY - timedelta(days=1200)  # alerts are kept three years
    _store(db, "ancient", ancient)
    _store(db, "ancient", ancient + timedelta(minutes=5), state="resolved")
    _store(db, "old", old)
    _store(db, "old", old + timedelta(minutes=5), state="resolved")
    _store(db, "new", DAY)
    removed = retention.enforce(DAY, db.retention)
    assert removed["vitals_minutes"] == 1 and removed["alerts"] >= 1
    assert sorted(Alert.objects.values_list("alert_id", flat=True)) == ["new", "old"]
    assert not VitalsMinute.objects.exists()
    assert AuditEntry.objects.filter(action="retention").exists()


def test_vitals_keep_the_latest_and_one_row_a_minute(world: World, db: Any) -> None:
    from eldergate.community.ingest.store import store
    from eldergate.community.models import VitalsLatest, VitalsMinute

    for i in range(12):  # every 10 s for two minutes
        t = DAY.timestamp() + 10 * i
        vit = {"v": 1, "site": "kz", "gateway": "gw1", "sent_at": t, "t": t, "resident": "r1",
               "heart_rate_bpm": 60 + i, "breathing_rate_bpm": None if i % 2 else 15, "quality": 0.9}
        store("vitals", "kz", "gw1", json.dumps(vit).encode(), DAY, db)
    assert VitalsLatest.objects.get().heart_rate_bpm == 71
    rows = list(VitalsMinute.objects.order_by("minute"))
    assert [(r.n, r.hr_min, r.hr_max, r.br_n) for r in rows] == [(6, 60, 65, 3), (6, 66, 71, 3)]
