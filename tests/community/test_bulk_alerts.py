"""New alerts in a batch are created together (ingest/new_alerts.py) and come out exactly as the
one-by-one path makes them: the same row, history, escalation steps and audit entry, for a
registered home, an unknown box (quarantined), a snoozed home and a home being installed; a
raised-then-acknowledged pair in one batch; a resend in the same batch; and a batch that races
another worker's insert."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from community_world import NOW_T, Receipts, World, alert_payload
from community_world import batch_store as _store
from community_world import incoming as _in


def _homes(world: World, db: Any) -> None:
    from eldergate.community.models import Gateway, Home, Resident, Snooze

    kz = world.sides["kz"]
    for gw_id, mode in (("gw2", Home.Mode.INSTALLATION), ("gw3", None)):
        home = Home.objects.create(community=kz.community, address="幸福路 9 号", building="1", unit="1",
                                   house_number=gw_id)
        if mode is not None:
            home.mode = mode
            home.save()
        Gateway.objects.create(site="kz", gateway=gw_id, home=home)
        Resident.objects.create(home=home, resident_id="r1", name="某", surname="某", birth_year=1940)
    home3 = Gateway.objects.get(site="kz", gateway="gw3").home
    now = _store(db).clock.now()
    Snooze.objects.create(home=home3, created=now - timedelta(minutes=1), until=now + timedelta(hours=1),
                          reason="住院")


def _batch() -> list[Any]:
    return [
        _in("alerts", "kz", "gw1", alert_payload("kz", "gw1", "fall-1", t=NOW_T)),
        _in("alerts", "kz", "gw1", alert_payload("kz", "gw1", "fall-1", t=NOW_T)),  # a resend in the same batch
        _in("alerts", "kz", "gw1", alert_payload("kz", "gw1", "gas-1", kind="gas", t=NOW_T - 600)),
        _in("alerts", "kz", "gw1", alert_payload("kz", "gw1", "fall-2", t=NOW_T, resident="someone-else")),
        _in("alerts", "kz", "gw1", alert_payload("kz", "gw1", "ack-1", t=NOW_T)),
        _in("alerts", "kz", "gw1", alert_payload("kz", "gw1", "ack-1", state="acknowledged", t=NOW_T,
                                                 acknowledged_by="杜明")),
        _in("alerts", "kz", "gw2", alert_payload("kz", "gw2", "fall-3", t=NOW_T)),  # being installed
        _in("alerts", "kz", "gw3", alert_payload("kz", "gw3", "fall-4", t=NOW_T)),  # snoozed
        _in("alerts", "zz", "stray", alert_payload("zz", "stray", "fall-5", t=NOW_T)),  # unknown: quarantined
        _in("alerts", "kz", "gw1", alert_payload("kz", "gw1", "far-1", t=NOW_T + 86400 * 400)),  # box clock wrong
        _in("alerts", "kz", "gw1", alert_payload("kz", "gw1", "test-1", kind="test", severity="info", t=NOW_T)),
    ]


def _picture() -> dict[str, Any]:
    """Everything the alerts left in the database, without primary keys."""
    from eldergate.community.models import Alert, AuditEntry, EscalationJob

    out: dict[str, Any] = {}
    for a in Alert.objects.select_related("gateway", "resident").order_by("alert_id"):
        out[a.alert_id] = {
            "row": (a.gateway.gateway, a.community_id is not None, a.resident.resident_id if a.resident else None,
                    a.kind, a.severity, a.test, a.state, a.raised_at, a.received_at, a.acknowledged_by,
                    json.dumps(a.evidence, sort_keys=True), a.group_key),
            "history": sorted((s.state, s.at, s.by, s.source) for s in a.history.all()),
            "steps": sorted((j.step, j.target, j.due_at) for j in EscalationJob.objects.filter(alert=a)),
            "audit": sorted((e.action, e.actor_name, json.dumps(e.details, sort_keys=True))
                            for e in AuditEntry.objects.filter(object_type="alert", object_id=str(a.pk))),
        }
    return out


def test_a_batch_of_new_alerts_is_what_the_one_by_one_path_makes(world: World, db: Any) -> None:
    from eldergate.community.ingest.store import store as store_one
    from eldergate.community.models import Alert

    _homes(world, db)
    receipts = Receipts()
    store = _store(db, receipts)
    assert store.store_batch(_batch())
    together = _picture()
    assert store.counts["stored"] == 11 - 1 and store.counts["duplicate"] == 1  # fall-1's copy
    ids = {json.loads(it.payload)["id"] for it in _batch()}
    assert all(receipts.receipted(it.site, it.gateway, json.loads(it.payload)["id"]) for it in _batch())
    assert set(together) == ids

    Alert.objects.all().delete()
    now = store.clock.now()
    for it in _batch():  # the one-by-one path (store._alert), which a batch that conflicts falls back to
        store_one(it.leaf, it.site, it.gateway, it.payload, now, db)
    assert _picture().keys() == together.keys()
    for aid, seen in _picture().items():
        assert seen["row"] == together[aid]["row"], aid
        assert seen["history"] == together[aid]["history"], aid
        assert seen["steps"] == together[aid]["steps"], aid
        assert seen["audit"][:1] == together[aid]["audit"][:1], aid  # the one-by-one run adds to the first's

    assert together["fall-1"]["steps"] and together["gas-1"]["steps"]  # paged
    for quiet in ("fall-3", "fall-4", "fall-5", "test-1"):  # installation, snoozed, quarantined, a test
        assert not together[quiet]["steps"], quiet
    assert together["fall-5"]["row"][1] is False  # quarantined: no community
    assert together["ack-1"]["row"][6] == "acknowledged" and together["ack-1"]["row"][9] == "杜明"


def test_a_batch_that_races_another_worker_goes_one_by_one(world: World, db: Any, monkeypatch: Any) -> None:
    """Another ingest worker committed one of the batch's new alerts after this batch looked: the
    bulk insert conflicts, its savepoint is undone, and the one-by-one path stores the rest."""
    from eldergate.community.ingest import new_alerts
    from eldergate.community.models import Alert

    other = _store(db, Receipts())  # the other worker, first
    assert other.store_batch([_in("alerts", "kz", "gw1", alert_payload("kz", "gw1", "fall-3", t=NOW_T))])
    monkeypatch.setattr(new_alerts, "unseen", lambda candidates: list(candidates))  # looked before that commit
    receipts = Receipts()
    store = _store(db, receipts)
    batch = [_in("alerts", "kz", "gw1", alert_payload("kz", "gw1", f"fall-{i}", t=NOW_T)) for i in range(1, 6)]
    assert store.store_batch(batch)
    assert sorted(Alert.objects.values_list("alert_id", flat=True)) == [f"fall-{i}" for i in range(1, 6)]
    assert all(receipts.receipted("kz", "gw1", f"fall-{i}") for i in range(1, 6))
    assert store.counts["stored"] == 4 and store.counts["duplicate"] == 1
    assert all(a.history.count() == 2 for a in Alert.objects.all())
