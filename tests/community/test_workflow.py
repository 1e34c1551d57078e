"""An alert's way through the server as the API shows it: each gateway state and each person's
step once in the history, resends changing nothing, acknowledgements queued for the gateway,
repeats grouped, pages with a `next` link."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from community_world import World, alert_payload, api

NOW = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)


def _store(cfg: Any, alert_id: str, state: str = "raised", site: str = "kz", now: datetime = NOW, **kw: Any) -> Any:
    from eldergate.community.ingest.store import store

    return store("alerts", site, "gw1", alert_payload(site, "gw1", alert_id, state=state, **kw), now, cfg)


def test_resends_change_nothing_and_are_receipted_again(world: World, db: Any) -> None:
    from eldergate.community.models import AlertState, EscalationJob

    first = _store(db, "a1")
    again = _store(db, "a1")
    assert first.new and not again.new
    assert first.receipt == again.receipt and again.receipt.kind == "received" and again.receipt.state == "raised"
    _store(db, "a1", "resolved")
    _store(db, "a1", "resolved")
    assert [(s.state, s.source) for s in AlertState.objects.order_by("pk")] == [
        ("raised", "gateway"), ("received", "server"), ("resolved", "gateway")]
    assert EscalationJob.objects.count() == 4  # scheduled once


def test_a_grid_worker_takes_an_alert_through_every_step(world: World, db: Any) -> None:
    from eldergate.community.models import AuditEntry, OutgoingAck

    _store(db, "a1")
    token = world.sides["kz"].tokens["grid-worker"]
    status, a = api(token, "POST", "/alerts/a1/acknowledge")
    assert status == 200 and a["state"] == "acknowledged" and a["acknowledged_by"] == "kz-grid-worker"
    assert a["gateway_confirmed_ack"] is False
    assert OutgoingAck.objects.get().by == "kz-grid-worker"  # on its way to the gateway
    assert api(token, "POST", "/alerts/a1/acknowledge")[0] == 409
    assert api(token, "POST", "/alerts/a1/on-the-way")[1]["state"] == "on_the_way"
    assert api(token, "POST", "/alerts/a1/arrived")[1]["state"] == "arrived"
    status, body = api(token, "POST", "/alerts/a1/resolve", {"outcome": "nonsense"})
    assert status == 409 and "outcome must be one of" in body["detail"]
    status, a = api(token, "POST", "/alerts/a1/resolve", {"outcome": "helped", "note": "helped her up"})
    assert status == 200 and a["state"] == "resolved" and not a["open"] and a["outcome"] == "helped"
    assert [h["state"] for h in a["history"]] == ["raised", "received", "acknowledged", "on_the_way", "arrived",
                                                  "resolved"]
    assert {h["by"] for h in a["history"][2:]} == {"kz-grid-worker"}
    # the gateway's later "resolved" (she is up) adds nothing: resolved is there once
    _store(db, "a1", "resolved")
    _, a = api(token, "GET", "/alerts/a1")
    assert [h["state"] for h in a["history"]].count("resolved") == 1
    actions = list(AuditEntry.objects.filter(object_type="alert").values_list("action", flat=True))
    for step in ("acknowledged", "on_the_way", "arrived", "resolved"):
        assert step in actions


def test_the_gateway_confirming_stops_the_resends(world: World, db: Any) -> None:
    import json

    from eldergate.community.ingest.store import store
    from eldergate.community.models import OutgoingAck
    from eldergate.community.work import acks

    _store(db, "a1")
    api(world.sides["kz"].tokens["volunteer"], "POST", "/alerts/a1/acknowledge")
    sent: list[tuple[str, str]] = []

    class Pub:
        def publish(self, topic: str, payload: str, qos: int = 1, retain: bool = False) -> bool:
            sent.append((topic, payload))
            return True

    t = datetime.now(UTC)
    assert acks.send_due(t, "eldergate/v1", Pub()) == 1
    assert acks.send_due(t, "eldergate/v1", Pub()) == 0  # backing off
    assert acks.send_due(t + timedelta(seconds=1.1), "eldergate/v1", Pub()) == 1
    assert acks.send_due(t + timedelta(seconds=2.5), "eldergate/v1", Pub()) == 0  # now 2 s
    assert sent[0][0] == "eldergate/v1/kz/gw1/ack"
    assert json.loads(sent[0][1]) == {"alert_id": "a1", "kind": "acknowledged", "state": None, "by": "kz-volunteer",
                                      "paged": []}
    done = {"v": 1, "site": "kz", "gateway": "gw1", "sent_at": 1.0, "alert_id": "a1", "by": "kz-volunteer",
            "state": "acknowledged"}
    store("acked", "kz", "gw1", json.dumps(done).encode(), t, db)
    assert OutgoingAck.objects.get().confirmed_at is not None
    assert acks.send_due(t + timedelta(hours=1), "eldergate/v1", Pub()) == 0
    _, a = api(world.sides["kz"].tokens["volunteer"], "GET", "/alerts/a1")
    assert a["gateway_confirmed_ack"] is True


def test_repeats_are_grouped_and_open_alerts_keep_their_age(world: World, db: Any) -> None:
    for i in range(3):
        _store(db, f"fall-{i}", t=1_795_000_000.0 + 60 * i)
    _store(db, "gas-1", kind="gas")
    _, page = api(world.sides["kz"].tokens["grid-worker"], "GET", "/alerts?state=open&kind=fall")
    assert [a["repeats"] for a in page["items"]] == [3, 3, 3]
    assert all(a["age_s"] > 0 for a in page["items"])


def test_pages_filters_and_the_next_link(world: World, db: Any) -> None:
    for i in range(7):
        _store(db, f"a{i}")
    token = world.sides["kz"].tokens["grid-worker"]
    api(token, "POST", "/alerts/a3/acknowledge")
    seen: list[str] = []
    url = "/alerts?limit=3"
    while url:
        status, page = api(token, "GET", url.replace("http://testserver/api/v1", ""))
        assert status == 200
        seen += [a["id"] for a in page["items"]]
        url = page["next"]
    assert seen == [f"a{i}" for i in range(7)]
    _, acked = api(token, "GET", "/alerts?state=acknowledged")
    assert [a["id"] for a in acked["items"]] == ["a3"] and acked["next"] is None
    future = (datetime.now(UTC) + timedelta(hours=1)).timestamp()
    assert api(token, "GET", f"/alerts?since={future}")[1]["items"] == []
    assert api(token, "GET", "/alerts?state=bogus")[0] == 400
    assert api(token, "GET", "/alerts?since=yesterday")[0] == 400


def test_malformed_and_off_contract_payloads_create_nothing(world: World, db: Any) -> None:
    import pytest

    from eldergate.community.ingest.store import Malformed, store
    from eldergate.community.models import Alert, Gateway

    before = Gateway.objects.count()
    bad = [
        ("alerts", b"not json"),
        ("alerts", b'{"v": 1}'),
        ("alerts", alert_payload("elsewhere", "gw1", "x1")),  # the payload's site is not its topic's
        ("vitals", b'{"site": "ghost", "gateway": "gw9", "sent_at": "soon"}'),
        ("weather", b"{}"),
    ]
    for leaf, payload in bad:
        with pytest.raises(Malformed):
            store(leaf, "ghost", "gw9", payload, NOW, db)
    assert Gateway.objects.count() == before and not Alert.objects.exists()


def test_installation_mode_and_snoozes_store_but_page_nobody(world: World, db: Any) -> None:
    from eldergate.community.models import EscalationJob, Home, Snooze

    kz = world.sides["kz"]
    Home.objects.filter(pk=kz.home.pk).update(mode="installation")
    _store(db, "install-1")
    Home.objects.filter(pk=kz.home.pk).update(mode="normal")
    Snooze.objects.create(home=kz.home, reason="in hospital", until=NOW + timedelta(days=3), created=NOW)
    _store(db, "snoozed-1")
    _, page = api(kz.tokens["grid-worker"], "GET", "/alerts")
    assert [(a["id"], a["test"]) for a in page["items"]] == [("install-1", True), ("snoozed-1", True)]
    assert not EscalationJob.objects.exists()
    status, _ = api(kz.tokens["grid-worker"], "POST", f"/homes/{kz.home.pk}/snooze",
                       {"reason": "", "until": (datetime.now(UTC) + timedelta(days=1)).isoformat()})
    assert status == 400  # never without a reason; never a global mute (there is no endpoint for one)


def test_statistics_from_outcomes_and_times(world: World, db: Any) -> None:
    from eldergate.community.clock import CURRENT, ManualClock

    clock = ManualClock(NOW)
    CURRENT.clock = clock
    try:
        token = world.sides["kz"].tokens["grid-worker"]
        t0 = NOW.timestamp()
        _store(db, "fast", t=t0)
        _store(db, "slow", t=t0)
        _store(db, "false", t=t0)
        clock.advance(60)
        api(token, "POST", "/alerts/fast/arrived")
        api(token, "POST", "/alerts/false/resolve", {"outcome": "false_alarm"})
        clock.advance(3600)
        api(token, "POST", "/alerts/slow/acknowledge")
        api(token, "POST", "/alerts/fast/resolve", {"outcome": "helped"})
        _, s = api(token, "GET", "/stats")
    finally:
        from eldergate.community.clock import SystemClock

        CURRENT.clock = SystemClock()
    assert s["alerts"] == 3
    assert s["within_target"]["acknowledge"] == {"within": 2, "of": 3, "share": 0.667}
    assert [m["alert"] for m in s["misses"] if m["step"] == "acknowledge"] == ["slow"]
    assert s["false_alarm_rate_by_kind"] == {"fall": 0.5}
    assert s["times"]["acknowledge"]["n"] == 3


def test_health_is_503_while_the_broker_is_away(db: Any) -> None:
    from django.test import Client

    from eldergate.community.work import liveness

    try:
        liveness.STATE.broker = lambda: False
        r = Client().get("/api/v1/health")
        assert r.status_code == 503 and r.json()["broker"] is False and r.json()["database"] is True
        liveness.STATE.broker = lambda: True
        assert Client().get("/api/v1/health").status_code == 200
    finally:
        liveness.STATE.broker = None


def test_the_console_puts_critical_alerts_first_then_the_oldest(world: World, db: Any) -> None:
    from django.test import Client

    _store(db, "warn-old", kind="out_of_bed_at_night", severity="warning", t=1_795_000_000.0)
    _store(db, "crit-new", kind="fall", severity="critical", t=1_795_000_600.0)
    _store(db, "crit-old", kind="gas", severity="critical", t=1_795_000_300.0)
    c = Client()
    c.force_login(world.sides["kz"].users["grid-worker"])
    html = c.get("/console").content.decode()
    order = [html.index(f'data-alert-id="{a}"') for a in ("crit-old", "crit-new", "warn-old")]
    assert order == sorted(order)
    assert c.get("/console/alerts/crit-old").status_code == 200
    c.force_login(world.sides["other"].users["grid-worker"])
    assert c.get("/console/alerts/crit-old").status_code == 404
