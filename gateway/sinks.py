"""Where outputs go. A sink takes every output of the pipeline; each keeps what it wants.

The alert and uplink work plugs in here: the console and the local SQLite store are the
sinks that need no network.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import IO, Protocol

from eldergate.drivers.readings import Reading
from eldergate.gateway.alerts import Alert, AlertState
from eldergate.gateway.home import Output
from eldergate.signal.model import Event, Observation
from eldergate.signal.summary import DailySummary

log = logging.getLogger(__name__)


class Sink(Protocol):
    def emit(self, item: Output) -> None: ...

    def close(self) -> None: ...


def to_json(item: Output) -> dict[str, object]:
    return item.to_json()


class JsonLinesSink:
    """One JSON object per line (``replay --json``)."""

    def __init__(self, stream: IO[str], readings: bool = False) -> None:
        self.stream, self.readings = stream, readings

    def emit(self, item: Output) -> None:
        if isinstance(item, Reading) and not self.readings:
            return
        self.stream.write(json.dumps(to_json(item), ensure_ascii=False, separators=(",", ":")) + "\n")

    def close(self) -> None:
        self.stream.flush()


class SqliteStore:
    """Alerts and events on local disk, so nothing accepted is lost across a restart.

    Alerts are committed at once with synchronous=FULL (each alert is a durability
    promise); events are batched (one commit per second at most) to spare SD cards.
    """

    def __init__(self, path: Path, batch_s: float = 1.0) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS alerts (
                id TEXT PRIMARY KEY, kind TEXT, state TEXT, raised_at REAL, updated_at REAL, body TEXT);
            CREATE TABLE IF NOT EXISTS events (
                seq INTEGER PRIMARY KEY AUTOINCREMENT, t REAL, name TEXT, resident TEXT, body TEXT);
            CREATE TABLE IF NOT EXISTS summaries (
                resident TEXT, period_end REAL, body TEXT, PRIMARY KEY (resident, period_end));
            """
        )
        self._lock = threading.Lock()
        self._pending: list[tuple[float, str, str, str]] = []
        self._batch_s = batch_s
        self._last_flush = time.monotonic()

    def emit(self, item: Output) -> None:
        if isinstance(item, Alert):
            self.put_alert(item)
        elif isinstance(item, Event):
            with self._lock:
                self._pending.append((item.t, str(item.name), item.resident, json.dumps(item.to_json())))
            if time.monotonic() - self._last_flush >= self._batch_s:
                self.flush()
        elif isinstance(item, DailySummary):
            with self._lock:
                self._db.execute("INSERT OR REPLACE INTO summaries VALUES (?, ?, ?)",
                                 (item.resident, item.period_end, json.dumps(item.to_json())))

    def put_alert(self, a: Alert) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO alerts VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                "state=excluded.state, updated_at=excluded.updated_at, body=excluded.body",
                (a.id, str(a.kind), str(a.state), a.raised_at, time.time(), json.dumps(a.to_json())),
            )

    def flush(self) -> None:
        with self._lock:
            rows, self._pending = self._pending, []
            if rows:
                self._db.execute("BEGIN")
                self._db.executemany("INSERT INTO events (t, name, resident, body) VALUES (?, ?, ?, ?)", rows)
                self._db.execute("COMMIT")
            self._last_flush = time.monotonic()

    def open_alerts(self) -> list[Alert]:
        with self._lock:
            rows = self._db.execute("SELECT body FROM alerts WHERE state != ?", (str(AlertState.RESOLVED),))
            return [Alert.from_json(json.loads(b)) for (b,) in rows.fetchall()]

    def alerts(self) -> list[Alert]:
        with self._lock:
            rows = self._db.execute("SELECT body FROM alerts ORDER BY raised_at").fetchall()
        return [Alert.from_json(json.loads(b)) for (b,) in rows]

    def event_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM events").fetchone()[0])

    def close(self) -> None:
        self.flush()
        with self._lock:
            self._db.close()


class Fanout:
    """Send every output to several sinks; a failing sink is logged and does not stop the others."""

    def __init__(self, sinks: list[Sink]) -> None:
        self.sinks = sinks

    def emit(self, item: Output) -> None:
        for s in self.sinks:
            try:
                s.emit(item)
            except (OSError, sqlite3.Error) as err:
                log.error("sink %s failed: %s", type(s).__name__, err)

    def close(self) -> None:
        for s in self.sinks:
            s.close()


def describe_observation(o: Observation) -> str:
    if o.value is None:
        return f"{o.name}: — ({o.reason})"
    return f"{o.name}: {o.value:.0f}" if isinstance(o.value, float) else f"{o.name}: {o.value}"
