"""The alerts' durable outbox, in the box's database (state_db.py).

Alerts are written before anything tries to send them, in one transaction with
``synchronous=FULL`` (SIGKILL tests say nothing about power loss: FULL is what survives a power
cut). Each alert state the server learns from the box (raised, resolved) is an outbox message
that stays until the community server receipts it. Alert messages are never evicted; if the disk
refuses a write they are kept in memory, still sent, retried on disk, and the gateway says so.

``Outbox`` is the whole database as the runtime uses it: these alerts, the telemetry lane
(telemetry_lane.py) and the home's history (history.py).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import sqlite3
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from eldergate.gateway.core.alerts import Alert, AlertState
from eldergate.gateway.core.output import Output
from eldergate.gateway.delivery.history import HomeHistory
from eldergate.gateway.delivery.state_db import Txn
from eldergate.gateway.delivery.telemetry_lane import LaneItem, TelemetryLane
from eldergate.signal.model import Event
from eldergate.signal.summary import DailySummary

__all__ = ["LaneItem", "Outbox", "PendingAlert"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PendingAlert:
    seq: int
    alert: Alert
    attempts: int


def _update_body(db: sqlite3.Connection, seq: int, body: str) -> None:
    db.execute("UPDATE outbox SET body = ? WHERE seq = ?", (body, seq))


def _is_news(a: Alert) -> bool:
    """An alert state the server learns from the box. An acknowledgement came from the server."""
    return a.state != AlertState.ACKNOWLEDGED


class Outbox(TelemetryLane, HomeHistory):
    def __init__(self, path: Path, lane_max: int = 20_000, batch_s: float = 1.0,
                 history_days: float = 30.0) -> None:
        super().__init__(path, lane_max, batch_s, history_days)
        self._unsaved: dict[tuple[str, str], Alert] = {}  # alert messages the disk refused

    # -- sink interface ---------------------------------------------------------------------

    def emit(self, item: Output) -> None:
        if isinstance(item, Alert):
            self.put_alert(item)
        elif isinstance(item, Event | DailySummary):
            self.remember(item)

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
