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
* **A damaged database is replaced, never fatal**: an integrity check at open, and any
  "malformed" error later, move the file aside (kept for diagnosis, ``*.corrupt-<time>``),
  salvage the alert messages that can still be read into a new one, and say so: the gateway
  raises a ``storage_fault`` alert to the grid worker. An alert that cannot be written is
  kept in memory and retried; it is never dropped.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eldergate.gateway.core.alerts import Alert, AlertState
from eldergate.gateway.core.output import Output
from eldergate.signal.model import Event
from eldergate.signal.summary import DailySummary

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY, kind TEXT, state TEXT, raised_at REAL, updated_at REAL, body TEXT);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, alert_id TEXT, state TEXT, body TEXT, created REAL,
    attempts INTEGER DEFAULT 0, last_sent REAL, next_send REAL, UNIQUE (alert_id, state));
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


Txn = Callable[[sqlite3.Connection], object]


def _connect(path: Path) -> sqlite3.Connection:
    """Open and check the database; raises sqlite3.DatabaseError when it is damaged."""
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
    try:
        verdict = db.execute("PRAGMA quick_check").fetchone()
        if verdict is None or verdict[0] != "ok":
            raise sqlite3.DatabaseError(f"integrity check failed: {verdict[0] if verdict else 'no answer'}")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(SCHEMA)
        columns = {row[1] for row in db.execute("PRAGMA table_info(outbox)")}
        if "next_send" not in columns:  # a database from before the resend schedule
            db.execute("ALTER TABLE outbox ADD COLUMN next_send REAL")
    except sqlite3.DatabaseError:
        db.close()
        raise
    return db


def _update_body(db: sqlite3.Connection, seq: int, body: str) -> None:
    db.execute("UPDATE outbox SET body = ? WHERE seq = ?", (body, seq))


def _is_news(a: Alert) -> bool:
    """An alert state the server learns from the box. An acknowledgement came from the server."""
    return a.state != AlertState.ACKNOWLEDGED


def _is_damage(err: sqlite3.DatabaseError) -> bool:
    """Corruption, as opposed to a full disk, a lock or a read-only file."""
    code = getattr(err, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


class Outbox:
    def __init__(self, path: Path, lane_max: int = 20_000, batch_s: float = 1.0,
                 history_days: float = 30.0) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.recovered: list[str] = []  # damaged files moved aside, not yet reported as alerts
        self._closed = False
        try:
            self._db = _connect(path)
        except sqlite3.DatabaseError as err:
            self._db = self._replace(str(err), salvage=[])
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
        """Store an alert state change and queue it for the server: durable before returning.
        An acknowledgement is the server's own news: stored, never queued (the box confirms it on
        ``acked``; docs/contract.md, "Acknowledgements")."""
        txn = self._alert_txn(a, replace=True)
        with self._lock:
            if not self._write(txn) and not (self._make_room() and self._write(txn)):
                self._unsaved[(a.id, str(a.state))] = a
            self._retry_unsaved()
        self.changed.set()

    @staticmethod
    def _alert_txn(a: Alert, replace: bool) -> Txn:
        """The alert's row and its outbox message, in one transaction. A late retry (``replace``
        False) never overwrites a newer state already stored."""
        body = json.dumps(a.to_json())
        now = time.time()
        upsert = ("ON CONFLICT(id) DO UPDATE SET state=excluded.state, updated_at=excluded.updated_at, "
                  "body=excluded.body" if replace else "ON CONFLICT(id) DO NOTHING")

        def txn(db: sqlite3.Connection) -> None:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute(f"INSERT INTO alerts VALUES (?, ?, ?, ?, ?, ?) {upsert}",
                           (a.id, str(a.kind), str(a.state), a.raised_at, now, body))
                if _is_news(a):
                    db.execute(f"INSERT OR {'REPLACE' if replace else 'IGNORE'} INTO outbox (alert_id, state, "
                               "body, created) VALUES (?, ?, ?, ?)", (a.id, str(a.state), body, now))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

        return txn

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
            if not self._write(self._alert_txn(a, replace=False)):
                return
            del self._unsaved[key]

    def _write(self, fn: Txn) -> bool:
        """Run a write; on a full or failing disk say so (once per new error) and return False.
        A damaged database is replaced (see the module's docstring) and the write tried once more.
        Closed (the home is stopping): nothing is written, as a late timer's call may come after."""
        if self._closed:
            return False
        try:
            try:
                fn(self._db)
            except sqlite3.DatabaseError as err:
                if not _is_damage(err):
                    raise
                self._recover(str(err))
                fn(self._db)
        except sqlite3.DatabaseError as err:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            msg = str(err)
            if msg != self.disk_error:
                log.critical("outbox write failed: %s — alerts are kept in memory and still sent", msg)
            self.disk_error = msg
            return False
        if self.disk_error is not None:
            log.warning("outbox writes work again")
            self.disk_error = None
        return True

    # -- damage -------------------------------------------------------------------------------

    def _recover(self, reason: str) -> None:
        """The database is damaged while in use: keep what can be read of the unsent alert
        messages and the open alerts, move the file aside, start a new one with them."""
        salvage: list[tuple[str, tuple[Any, ...]]] = []
        for sql, insert in (("SELECT id, kind, state, raised_at, updated_at, body FROM alerts "
                             "WHERE state != 'resolved'", "INSERT OR IGNORE INTO alerts VALUES (?, ?, ?, ?, ?, ?)"),
                            ("SELECT alert_id, state, body, created FROM outbox",
                             "INSERT OR IGNORE INTO outbox (alert_id, state, body, created) VALUES (?, ?, ?, ?)")):
            try:
                salvage += [(insert, tuple(row)) for row in self._db.execute(sql)]
            except sqlite3.DatabaseError:
                log.error("outbox: part of the damaged database could not be read (%s)", sql.split()[-4])
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")
        self._db.close()
        self._db = self._replace(reason, salvage)

    def _replace(self, reason: str, salvage: list[tuple[str, tuple[Any, ...]]]) -> sqlite3.Connection:
        aside = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
        for suffix in ("", "-wal", "-shm"):
            src = self.path.with_name(self.path.name + suffix)
            if src.exists():
                src.replace(aside.with_name(aside.name + suffix))
        log.critical("outbox database %s is damaged (%s): moved aside to %s, a new one started with %d "
                     "salvaged row(s)", self.path, reason, aside.name, len(salvage))
        try:
            db = _connect(self.path)
        except sqlite3.DatabaseError as err:  # nowhere to write at all: keep going in memory, say so
            log.critical("outbox: no new database could be started (%s): alerts are kept in memory only", err)
            db = _connect(Path(":memory:"))
        db.execute("BEGIN")
        for sql, row in salvage:
            db.execute(sql, row)
        db.execute("COMMIT")
        self.recovered.append(aside.name)
        return db

    def take_recovered(self) -> list[str]:
        """Damaged files moved aside since the last call: each one is raised as an alert."""
        with self._lock:
            out, self.recovered = self.recovered, []
        return out

    # -- sending --------------------------------------------------------------------------------

    def pending_alerts(self, now: float | None = None, limit: int = 200) -> list[PendingAlert]:
        """Alert messages due for (re)sending: never sent, or their next resend is due."""
        now = time.time() if now is None else now
        with self._lock:
            rows = self._read("SELECT seq, body, attempts FROM outbox WHERE next_send IS NULL OR next_send <= ? "
                              "ORDER BY seq LIMIT ?", (now, limit))
            out = [PendingAlert(seq, Alert.from_json(json.loads(body)), n) for seq, body, n in rows]
            out += [PendingAlert(-1, a, 0) for a in self._unsaved.values() if _is_news(a)]
        return out

    def mark_sent(self, seq: int, resend_in_s: float, now: float | None = None) -> None:
        if seq < 0:
            return
        now = time.time() if now is None else now
        with self._lock:
            self._write(lambda db: db.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_sent = ?, next_send = ? WHERE seq = ?",
                (now, now + resend_in_s, seq)))

    def all_due(self) -> None:
        """The link (or the server) came back: every unconfirmed alert message is due now, and its
        back-off starts again."""
        with self._lock:
            self._write(lambda db: db.execute("UPDATE outbox SET next_send = NULL, attempts = 0"))
        self.changed.set()

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        """A read that survives damage: the database is replaced and the read tried once more."""
        try:
            return self._db.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as err:
            if not _is_damage(err):
                raise
            self._recover(str(err))
            return self._db.execute(sql, args).fetchall()

    def received(self, alert_id: str, state: str | None, paged: Collection[str] = ()) -> bool:
        """The server has the alert message: it leaves the outbox. Returns True if it was there.
        ``paged``: whom the received copy said the box paged; a message that says more now (the box
        paged since that copy was sent) stays, due at once, so that the server hears it."""
        found = [0]

        def delete(db: sqlite3.Connection) -> None:
            rows = db.execute("SELECT seq, body FROM outbox WHERE alert_id = ?" + ("" if state is None else
                              " AND state = ?"), (alert_id,) if state is None else (alert_id, state)).fetchall()
            done = [(seq,) for seq, body in rows if set(json.loads(body).get("paged", ())) <= set(paged)]
            db.executemany("DELETE FROM outbox WHERE seq = ?", done)
            found[0] = len(done)
            stale = [(time.time(), seq) for seq, _body in rows if (seq,) not in done]
            db.executemany("UPDATE outbox SET next_send = ? WHERE seq = ?", stale)
            if stale:
                self.changed.set()

        with self._lock:
            self._write(delete)
            before = len(self._unsaved)
            self._unsaved = {k: v for k, v in self._unsaved.items() if not (k[0] == alert_id and
                                                                             (state is None or k[1] == state))}
            return found[0] > 0 or len(self._unsaved) < before

    def shift_unsent(self, delta: float) -> int:
        """Correct the times of alert messages not yet sent (the clock was set after they were raised)."""
        with self._lock:
            rows = self._read("SELECT seq, body FROM outbox WHERE last_sent IS NULL")
            for seq, body in rows:
                a = Alert.from_json(json.loads(body)).shifted(delta)
                noted = dataclasses.replace(a, evidence={**a.evidence, "clock_corrected_s": round(delta, 1)})
                self._write(functools.partial(_update_body, seq=seq, body=json.dumps(noted.to_json())))
        return len(rows)

    def unsent_count(self) -> int:
        with self._lock:
            return int(self._read("SELECT count(*) FROM outbox")[0][0]) + sum(map(_is_news, self._unsaved.values()))

    def open_alerts(self) -> list[Alert]:
        with self._lock:
            rows = self._read("SELECT body FROM alerts WHERE state != ?", (str(AlertState.RESOLVED),))
            stored = {a.id: a for a in (Alert.from_json(json.loads(b)) for (b,) in rows)}
            for a in self._unsaved.values():  # newer than what the disk holds
                stored[a.id] = a
        return [a for a in stored.values() if a.state != AlertState.RESOLVED]

    def alerts(self) -> list[Alert]:
        with self._lock:
            rows = self._read("SELECT body FROM alerts ORDER BY raised_at")
        return [Alert.from_json(json.loads(b)) for (b,) in rows]

    def alert(self, alert_id: str) -> Alert | None:
        with self._lock:
            rows = self._read("SELECT body FROM alerts WHERE id = ?", (alert_id,))
        return Alert.from_json(json.loads(rows[0][0])) if rows else None

    def resting_heart_rates(self, since: float) -> dict[str, float]:
        """Each resident's latest resting heart rate among the summaries kept that end after
        ``since``: after a restart, the heart estimator's usual rate (gateway/core/home.py)."""
        with self._lock:
            rows = self._read("SELECT resident, body FROM summaries WHERE period_end >= ? ORDER BY period_end",
                              (since,))
        rates: dict[str, float] = {}
        for resident, body in rows:
            bpm = json.loads(body).get("resting_heart_rate_bpm")
            if isinstance(bpm, (int, float)):
                rates[resident] = float(bpm)
        return rates

    def outings(self, since: float) -> dict[str, list[tuple[float, float]]]:
        """Each resident's outings (start, seconds out) among the events kept since ``since``: after
        a restart, what the outing watch learns the usual length from (signal/outings.py)."""
        with self._lock:
            rows = self._read("SELECT resident, body FROM events WHERE name = 'came_back' AND t >= ? ORDER BY t",
                              (since,))
        out: dict[str, list[tuple[float, float]]] = {}
        for resident, body in rows:
            details = json.loads(body).get("details", {})
            start, minutes = details.get("started"), details.get("out_min")
            if isinstance(start, (int, float)) and isinstance(minutes, (int, float)):
                out.setdefault(resident, []).append((float(start), float(minutes) * 60.0))
        return out

    def update_alert(self, a: Alert) -> None:
        """A change to the stored alert that is not itself news for the server (delivered; whom the box paged)."""
        with self._lock:
            self._write(lambda db: db.execute("UPDATE alerts SET state = ?, updated_at = ?, body = ? WHERE id = ?",
                                              (str(a.state), time.time(), json.dumps(a.to_json()), a.id)))

    def mark_paged(self, a: Alert) -> None:
        """The box paged contacts for ``a`` (``a.paged``): its stored state and every message of it
        still waiting for a receipt say so; a resend carries it to the server."""
        with self._lock:
            rows = self._read("SELECT seq, body FROM outbox WHERE alert_id = ?", (a.id,))
            for seq, body in rows:
                queued = dataclasses.replace(Alert.from_json(json.loads(body)), paged=a.paged)
                self._write(functools.partial(_update_body, seq=seq, body=json.dumps(queued.to_json())))
        self.update_alert(a)
        self.changed.set()

    # -- telemetry lane ---------------------------------------------------------------------

    def put_lane(self, leaf: str, body: dict[str, Any]) -> None:
        with self._lock:
            self._pending_lane.append((leaf, json.dumps(body, ensure_ascii=False), time.time()))
        self._maybe_flush()

    def lane_batch(self, limit: int = 100) -> list[LaneItem]:
        with self._lock:
            rows = self._read("SELECT seq, leaf, body FROM lane ORDER BY seq LIMIT ?", (limit,))
        return [LaneItem(seq, leaf, json.loads(body)) for seq, leaf, body in rows]

    def lane_done(self, seqs: list[int]) -> None:
        if seqs:
            with self._lock:
                self._write(lambda db: db.executemany("DELETE FROM lane WHERE seq = ?", [(s,) for s in seqs]))

    def lane_dropped(self) -> int:
        with self._lock:
            rows = self._read("SELECT value FROM counters WHERE name = 'lane_dropped'")
        return int(rows[0][0]) if rows else 0

    def lane_size(self) -> int:
        with self._lock:
            return int(self._read("SELECT count(*) FROM lane")[0][0])

    # -- batching -----------------------------------------------------------------------------

    def _maybe_flush(self) -> None:
        if time.monotonic() - self._last_flush >= self._batch_s:
            self.flush()

    def flush_due(self) -> None:
        """Write what has waited a batch's time (the core loop's tick): the last event of a quiet
        evening is not held until the next one comes."""
        with self._lock:
            waiting = bool(self._pending_lane or self._pending_events)
        if waiting:
            self._maybe_flush()

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

            self._write(txn)
        if lane:
            self.changed.set()

    def event_count(self) -> int:
        with self._lock:
            return int(self._read("SELECT count(*) FROM events")[0][0])

    def close(self) -> None:
        self.flush()
        with self._lock:
            self._closed = True
            self._db.close()
