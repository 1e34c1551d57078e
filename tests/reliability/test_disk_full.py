"""A full disk: alerts keep priority over telemetry, nothing raised is lost, the gateway says so."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from eldergate.gateway.core.alerts import Alert, AlertKind, Severity
from eldergate.gateway.delivery.outbox import Outbox


def alert(i: int) -> Alert:
    return Alert(f"a{i}", AlertKind.FALL, Severity.CRITICAL, "r1", "bedroom", "radar", float(i), raised_at=float(i))


def test_alerts_keep_priority_when_the_disk_is_full(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    ob = Outbox(tmp_path / "o.db", lane_max=10**9, batch_s=0.0)
    pages = ob._db.execute("PRAGMA page_count").fetchone()[0]
    ob._db.execute(f"PRAGMA max_page_count = {pages + 40}")  # a disk with about 160 kB left
    n = 0
    while ob.disk_error is None and n < 100_000:  # telemetry fills the disk
        ob.put_lane("vitals", {"i": n, "pad": "x" * 200})
        n += 1
    assert ob.disk_error is not None and "full" in ob.disk_error
    for i in range(20):
        ob.put_alert(alert(i))
    pending = {p.alert.id for p in ob.pending_alerts()}
    assert pending == {f"a{i}" for i in range(20)}  # every alert is there to be sent
    assert any("disk full" in r.getMessage() for r in caplog.records)
    assert ob.lane_dropped() > 0
    print(f"\ntried: {n} telemetry writes until the disk was full, then 20 alerts; survived: all 20 alerts "
          f"queued, {ob.lane_dropped()} telemetry messages dropped (counted), the disk error logged")
    ob.close()
    again = Outbox(tmp_path / "o.db")
    assert {p.alert.id for p in again.pending_alerts()} >= {f"a{i}" for i in range(20)}  # durable
    again.close()


def test_alerts_kept_in_memory_when_nothing_can_be_written(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ob = Outbox(tmp_path / "o.db", batch_s=0.0)
    pages = ob._db.execute("PRAGMA page_count").fetchone()[0]
    ob._db.execute(f"PRAGMA max_page_count = {pages}")  # not one more page
    for i in range(5):
        ob.put_alert(alert(i))
    assert {p.alert.id for p in ob.pending_alerts()} == {f"a{i}" for i in range(5)}
    assert ob.unsent_count() == 5
    ob._db.execute("PRAGMA max_page_count = 1000000")  # space again: the next write stores them
    ob.put_alert(alert(99))
    rows = ob._db.execute("SELECT count(*) FROM outbox").fetchone()[0]
    assert rows == 6 and ob.disk_error is None
    print("\ntried: 5 alerts with no disk space at all; survived: all 5, kept in memory, then written")
