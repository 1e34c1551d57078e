"""The durable outbox: SQLite in WAL mode, on the gateway's state directory.

* **Alerts** are written before anything tries to send them, in one transaction with
  ``synchronous=FULL`` (SIGKILL tests say nothing about power loss: FULL is what survives
  a power cut). Each alert state change (raised, resolved...) is an outbox message that
  stays until the community server acknowledges receiving it. Alert messages are never
  evicted; if the disk refuses a write they are kept in memory, still sent, retried on disk,
  and the gateway says so.
* **The telemetry lane** (events, vitals, summaries for the server) is bounded: past its
  cap the oldest rows go, counted. Its writes are batched (about one commit a second) to
  spare SD cards, and it never delays an alert: the uplink drains alerts first.
* **Local history** of events and summaries, pruned by age.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eldergate.gateway.alerts import Alert, AlertState
from eldergate.gateway.home import Output
from eldergate.signal.model import Event
from eldergate.signal.summary import DailySummary

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY, kind TEXT, state TEXT, raised_at REAL, updated_at REAL, body TEXT);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, alert_id TEXT, state TEXT, body TEXT, created REAL,
    attempts INTEGER DEFAULT 0, last_sent REAL, UNIQUE (alert_id, state));
CREATE TABLE IF NOT EXISTS lane (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, leaf TEXT, body TEXT, created REAL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, t REAL, name TEXT, resident TEXT, body TEXT);
CREATE TABLE IF NOT EXISTS summaries (
    resident TEXT, period_end REAL, body TEXT, PRIMARY KEY (resident, period_end));
CREATE INDEX IF NOT EXISTS events_t ON events (t);
"""


@dataclass(frozen=True, slots=True)
class PendingAlert:
    seq: int
    alert: Alert
    attempts: int


@dataclass(frozen=True, slots=True)
class LaneItem:
    seq: int
    leaf: str  # events | vitals | summary
    body: dict[str, Any]


class Outbox:
    def __init__(self, path: Path, lane_max: int = 20_000, batch_s: float = 1.0,
                 history_days: float = 30.0) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        self._lock = threading.RLock()
        self.lane_max = lane_max
        self._batch_s = batch_s
        self._history_s = history_days * 86400
        self._pending_lane: list[tuple[str, str, float]] = []
        self._pending_events: list[tuple[float, str, str, str]] = []
        self._last_flush = time.monotonic()
        self._unsaved: dict[tuple[str, str], Alert] = {}  # alert messages the disk refused
        self.disk_error: str | None = None
        self.changed = threading.Event()  # set when there is something new to send

    # -- sink interface ---------------------------------------------------------------------

    def emit(self, item: Output) -> None:
        if isinstance(item, Alert):
            self.put_alert(item)
        elif isinstance(item, Event):
            with self._lock:
                self._pending_events.append((item.t, str(item.name), item.resident, json.dumps(item.to_json())))
            self._maybe_flush()
        elif isinstance(item, DailySummary):
            with self._lock:
                self._write(lambda db: db.execute("INSERT OR REPLACE INTO summaries VALUES (?, ?, ?)",
                                                  (item.resident, item.period_end, json.dumps(item.to_json()))))

    # -- alerts -----------------------------------------------------------------------------

    def put_alert(self, a: Alert) -> None:
        """Store an alert state change and queue it for the server: durable before returning."""
        body = json.dumps(a.to_json())
        now = time.time()

        def txn(db: sqlite3.Connection) -> None:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute("INSERT INTO alerts VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                           "state=excluded.state, updated_at=excluded.updated_at, body=excluded.body",
                           (a.id, str(a.kind), str(a.state), a.raised_at, now, body))
                db.execute("INSERT OR REPLACE INTO outbox (alert_id, state, body, created) VALUES (?, ?, ?, ?)",
                           (a.id, str(a.state), body, now))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

        with self._lock:
            if not self._write(txn) and not (self._make_room() and self._write(txn)):
                self._unsaved[(a.id, str(a.state))] = a
            self._retry_unsaved()
        self.changed.set()

    def _make_room(self) -> bool:
        """Alerts keep priority on a full disk: queued telemetry and old history go first."""
        try:
            lane = self._db.execute("DELETE FROM lane").rowcount
            events = self._db.execute("DELETE FROM events WHERE seq IN (SELECT seq FROM events ORDER BY seq "
                                      "LIMIT (SELECT count(*) / 2 + 1 FROM events))").rowcount
            self._db.execute("INSERT INTO counters VALUES ('lane_dropped', ?) ON CONFLICT(name) DO UPDATE SET "
                             "value = value + excluded.value", (lane,))
        except sqlite3.OperationalError:
            return False
        log.critical("disk full: dropped %d queued telemetry message(s) and %d old event(s) to keep alerts",
                     lane, events)
        return True

    def _retry_unsaved(self) -> None:
        for key, a in list(self._unsaved.items()):
            body = json.dumps(a.to_json())
            ok = self._write(lambda db, a=a, body=body: db.execute(
                "INSERT OR IGNORE INTO outbox (alert_id, state, body, created) VALUES (?, ?, ?, ?)",
                (a.id, str(a.state), body, time.time())))
            if not ok:
                return
            del self._unsaved[key]

    def _write(self, fn: Any) -> bool:
        """Run a write; on a full or failing disk say so (once per new error) and return False."""
        try:
            fn(self._db)
        except sqlite3.OperationalError as err:
            msg = str(err)
            if msg != self.disk_error:
                log.critical("outbox write failed: %s — alerts are kept in memory and still sent", msg)
            self.disk_error = msg
            return False
        if self.disk_error is not None:
            log.warning("outbox writes work again")
            self.disk_error = None
        return True

    def pending_alerts(self, resend_after_s: float, now: float | None = None, limit: int = 200) -> list[PendingAlert]:
        """Alert messages due for (re)sending: never sent, or sent longer ago than the resend interval."""
        now = time.time() if now is None else now
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, body, attempts FROM outbox WHERE last_sent IS NULL OR last_sent <= ? "
                "ORDER BY seq LIMIT ?", (now - resend_after_s, limit)).fetchall()
            out = [PendingAlert(seq, Alert.from_json(json.loads(body)), n) for seq, body, n in rows]
            out += [PendingAlert(-1, a, 0) for a in self._unsaved.values()]
        return out

    def mark_sent(self, seq: int, now: float | None = None) -> None:
        if seq < 0:
            return
        with self._lock:
            self._write(lambda db: db.execute("UPDATE outbox SET attempts = attempts + 1, last_sent = ? WHERE seq = ?",
                                              (time.time() if now is None else now, seq)))

    def received(self, alert_id: str, state: str | None) -> bool:
        """The server has the alert message: it leaves the outbox. Returns True if it was there."""
        with self._lock:
            if state is None:
                cur = self._db.execute("DELETE FROM outbox WHERE alert_id = ?", (alert_id,))
            else:
                cur = self._db.execute("DELETE FROM outbox WHERE alert_id = ? AND state = ?", (alert_id, state))
            self._unsaved = {k: v for k, v in self._unsaved.items() if not (k[0] == alert_id and
                                                                             (state is None or k[1] == state))}
            return cur.rowcount > 0

    def shift_unsent(self, delta: float) -> int:
        """Correct the times of alert messages not yet sent (the clock was set after they were raised)."""
        with self._lock:
            rows = self._db.execute("SELECT seq, body FROM outbox WHERE last_sent IS NULL").fetchall()
            for seq, body in rows:
                d = json.loads(body)
                for k in ("started", "raised_at", "resolved_at", "t"):
                    if d.get(k) is not None:
                        d[k] = d[k] + delta
                d.setdefault("evidence", {})["clock_corrected_s"] = round(delta, 1)
                self._write(lambda db, seq=seq, d=d: db.execute("UPDATE outbox SET body = ? WHERE seq = ?",
                                                                (json.dumps(d), seq)))
        return len(rows)

    def unsent_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0]) + len(self._unsaved)

    def open_alerts(self) -> list[Alert]:
        with self._lock:
            rows = self._db.execute("SELECT body FROM alerts WHERE state != ?", (str(AlertState.RESOLVED),))
            return [Alert.from_json(json.loads(b)) for (b,) in rows.fetchall()]

    def alerts(self) -> list[Alert]:
        with self._lock:
            rows = self._db.execute("SELECT body FROM alerts ORDER BY raised_at").fetchall()
        return [Alert.from_json(json.loads(b)) for (b,) in rows]

    def alert(self, alert_id: str) -> Alert | None:
        with self._lock:
            row = self._db.execute("SELECT body FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        return Alert.from_json(json.loads(row[0])) if row else None

    def update_alert(self, a: Alert) -> None:
        """A lifecycle stamp that is not itself news for the server (delivered)."""
        with self._lock:
            self._write(lambda db: db.execute("UPDATE alerts SET state = ?, updated_at = ?, body = ? WHERE id = ?",
                                              (str(a.state), time.time(), json.dumps(a.to_json()), a.id)))

    # -- telemetry lane ---------------------------------------------------------------------

    def put_lane(self, leaf: str, body: dict[str, Any]) -> None:
        with self._lock:
            self._pending_lane.append((leaf, json.dumps(body, ensure_ascii=False), time.time()))
        self._maybe_flush()

    def lane_batch(self, limit: int = 100) -> list[LaneItem]:
        with self._lock:
            rows = self._db.execute("SELECT seq, leaf, body FROM lane ORDER BY seq LIMIT ?", (limit,)).fetchall()
        return [LaneItem(seq, leaf, json.loads(body)) for seq, leaf, body in rows]

    def lane_done(self, seqs: list[int]) -> None:
        if seqs:
            with self._lock:
                self._write(lambda db: db.executemany("DELETE FROM lane WHERE seq = ?", [(s,) for s in seqs]))

    def lane_dropped(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT value FROM counters WHERE name = 'lane_dropped'").fetchone()
        return int(row[0]) if row else 0

    def lane_size(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM lane").fetchone()[0])

    # -- batching -----------------------------------------------------------------------------

    def _maybe_flush(self) -> None:
        if time.monotonic() - self._last_flush >= self._batch_s:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            lane, self._pending_lane = self._pending_lane, []
            events, self._pending_events = self._pending_events, []
            self._last_flush = time.monotonic()
            if not lane and not events:
                return

            def txn(db: sqlite3.Connection) -> None:
                db.execute("BEGIN")
                db.executemany("INSERT INTO lane (leaf, body, created) VALUES (?, ?, ?)", lane)
                db.executemany("INSERT INTO events (t, name, resident, body) VALUES (?, ?, ?, ?)", events)
                over = db.execute("SELECT count(*) FROM lane").fetchone()[0] - self.lane_max
                if over > 0:  # bounded: the oldest telemetry goes first, counted
                    db.execute("DELETE FROM lane WHERE seq IN (SELECT seq FROM lane ORDER BY seq LIMIT ?)", (over,))
                    db.execute("INSERT INTO counters VALUES ('lane_dropped', ?) ON CONFLICT(name) DO UPDATE SET "
                               "value = value + excluded.value", (over,))
                if events:
                    db.execute("DELETE FROM events WHERE t < ?", (events[-1][0] - self._history_s,))
                db.execute("COMMIT")

            if not self._write(txn):
                self._db.execute("ROLLBACK") if self._db.in_transaction else None
        if lane:
            self.changed.set()

    def event_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM events").fetchone()[0])

    def close(self) -> None:
        self.flush()
        with self._lock:
            self._db.close()
