"""The box's one SQLite database (WAL, on the gateway's state directory): its schema, writes that
say so when the disk fails, a damaged file replaced without a crash loop, and the batched writes
of telemetry and history.

* **Batched**: the telemetry lane and the history are written about once a second, in one
  commit, to spare SD cards (``flush``); alerts are written at once (outbox.py).
* **A damaged database is replaced, never fatal**: an integrity check at open, and any
  "malformed" error later, move the file aside (kept for diagnosis, ``*.corrupt-<time>``),
  salvage the alert messages that can still be read into a new one, and say so: the gateway
  raises a ``storage_fault`` alert to the grid worker.

The rooms of the database each have their module: the alerts' outbox (outbox.py), the telemetry
lane (telemetry_lane.py), the home's history (history.py).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def _is_damage(err: sqlite3.DatabaseError) -> bool:
    """Corruption, as opposed to a full disk, a lock or a read-only file."""
    code = getattr(err, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


class StateDb:
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
        self.disk_error: str | None = None
        self.changed = threading.Event()  # set when there is something new to send

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

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        """A read that survives damage: the database is replaced and the read tried once more."""
        try:
            return self._db.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as err:
            if not _is_damage(err):
                raise
            self._recover(str(err))
            return self._db.execute(sql, args).fetchall()

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

    def close(self) -> None:
        self.flush()
        with self._lock:
            self._closed = True
            self._db.close()
