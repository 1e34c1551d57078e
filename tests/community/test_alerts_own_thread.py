"""Alerts have their own store thread on PostgreSQL (#37): a fall arriving while a batch of vitals
is being written is stored at once, not after it (the vitals' batch is held open here until the
alert is in). SQLite, one writer at a time, keeps one thread for every lane, alerts first."""

from __future__ import annotations

import functools
import json
import threading
from typing import Any

from community_world import NOW_T, World, alert_payload
from testutil import wait_for


def test_a_fall_is_stored_while_a_batch_of_vitals_is_being_written(world: World, db: Any) -> None:
    from eldergate.community.clock import ManualClock
    from eldergate.community.ingest.lanes import ALERT_LANES
    from eldergate.community.ingest.mqtt import Ingest, Received
    from eldergate.community.ingest.store import Incoming
    from eldergate.community.models import Alert
    from eldergate.community.work.liveness import Task

    clock = ManualClock()
    clock.t = clock.t.replace(year=2026, month=11, day=18, hour=23, minute=35)  # a minute after NOW_T
    ingest = Ingest(db, clock)
    writing, release = threading.Event(), threading.Event()
    store = ingest.store_batch

    def slow_vitals(items: list[Any]) -> bool:
        if any(it.leaf == "vitals" for it in items):
            writing.set()
            release.wait(30)
        return store(items)

    ingest.store_batch = slow_vitals  # type: ignore[method-assign]
    tasks = [Task(name, functools.partial(ingest._drain, lanes=lanes), ingest._stop).start()
             for name, lanes in (("alerts", ALERT_LANES), ("telemetry", ("telemetry",)))]
    try:
        vitals = json.dumps({"v": 1, "site": "kz", "gateway": "gw1", "sent_at": NOW_T, "t": NOW_T, "resident": "r1",
                             "heart_rate_bpm": 64, "breathing_rate_bpm": 14, "quality": 0.9}).encode()
        assert ingest.lanes.offer(Received(Incoming("vitals", "kz", "gw1", vitals), None, 0, None), "vitals")
        assert writing.wait(10)
        fall = alert_payload("kz", "gw1", "fall-while-vitals", t=NOW_T + 30)
        assert ingest.lanes.put(Received(Incoming("alerts", "kz", "gw1", fall), None, 0, None), "fresh", timeout=1)
        assert wait_for(lambda: Alert.objects.filter(alert_id="fall-while-vitals").exists(), 10), \
            "the fall waited for the vitals"
        assert not release.is_set()
    finally:
        release.set()
        ingest._stop.set()
        for t in tasks:
            assert t.thread is not None
            t.thread.join(5)


def test_postgresql_gives_alerts_a_thread_and_sqlite_one_writer() -> None:
    from eldergate.community.ingest.lanes import ALERT_LANES, LANES, store_loops

    assert store_loops("postgresql") == [("eg-ingest-alerts", ALERT_LANES), ("eg-ingest-store", ("telemetry",))]
    assert store_loops("sqlite") == [("eg-ingest-store", LANES)]  # one writer: alerts first in one thread
