"""Alerts: events that someone must act on, with a stable id and a lifecycle.

raised → delivered → acknowledged (by whom) → resolved; each step is stamped. The engine
turns events into alerts, keeps one open alert per condition (dedupe), and resolves an
alert when its condition clears. Ids are derived from what raised the alert, so a replay
of the same capture yields the same ids.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
from dataclasses import dataclass, field
from typing import Any

from eldergate.contract.alert_kinds import KINDS, AlertKind, Severity
from eldergate.signal.model import Event, EventName

__all__ = ["Alert", "AlertEngine", "AlertKind", "AlertState", "Severity", "alert_id"]


class AlertState(enum.StrEnum):
    RAISED = "raised"
    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


# the contract's rules (contract/alert_kinds.py): event that raises -> (alert kind, its usual
# severity); event that clears -> alert kind
RAISES: dict[EventName, tuple[AlertKind, Severity]] = {
    e: (f.kind, f.severity) for f in KINDS.values() if f.origin == "box" for e in f.raised_by}
CLEARS: dict[EventName, AlertKind] = {e: f.kind for f in KINDS.values() if f.origin == "box" for e in f.cleared_by}
# alerts about a whole resident (one at a time) vs about one sensor (one per sensor)
_PER_SENSOR = {AlertKind.SENSOR_OFFLINE, AlertKind.LOW_BATTERY, AlertKind.TAMPER, AlertKind.WATER_LEAK}
# home-wide alarms that several sensors may report at once: the alert ends when the last one clears
_SHARED = frozenset({AlertKind.GAS, AlertKind.SMOKE, AlertKind.CARBON_MONOXIDE})
URGENT_WHEN_SAID = frozenset({AlertKind.NOT_BACK})  # the event's details["urgent"] raises its severity
# momentary alerts: no sensor state clears them, a person answering does (docs/alert-lifecycle.md)
CLOSED_BY_ACK = frozenset(f.kind for f in KINDS.values() if f.closed_by_ack)


@dataclass(frozen=True, slots=True)
class Alert:
    id: str
    kind: AlertKind
    severity: Severity
    resident: str
    room: str
    sensor: str
    started: float
    evidence: dict[str, Any] = field(default_factory=dict)
    state: AlertState = AlertState.RAISED
    raised_at: float = 0.0
    delivered_at: float | None = None
    acknowledged_at: float | None = None
    acknowledged_by: str | None = None
    resolved_at: float | None = None
    # the roles of the contacts the box paged itself (docs/alert-lifecycle.md, "Who is paged"): sent
    # with the alert so that the server's ladder does not page them again
    paged: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.resident, self.sensor if self.kind in _PER_SENSOR else "")

    @property
    def is_open(self) -> bool:
        """Still a condition the engine holds: not resolved, and not a momentary alert someone answered."""
        if self.state == AlertState.RESOLVED:
            return False
        return not (self.state == AlertState.ACKNOWLEDGED and self.kind in CLOSED_BY_ACK)

    def to_json(self) -> dict[str, Any]:
        """The contract's alert (contract/messages.py AlertMessage: the same names and meanings,
        without the envelope, the titles and the hand-over the uplink adds) and the box's own
        stamps: what the outbox stores, what ``replay --json`` prints."""
        t = self.resolved_at if self.state == AlertState.RESOLVED and self.resolved_at else self.raised_at
        return {
            "record": "alert", "t": round(t, 3),
            "id": self.id, "kind": str(self.kind), "severity": str(self.severity), "state": str(self.state),
            "resident": self.resident, "room": self.room, "sensor": self.sensor,
            "started": round(self.started, 3), "raised_at": round(self.raised_at, 3), "resolved_at": self.resolved_at,
            "acknowledged_by": self.acknowledged_by, "evidence": self.evidence, "paged": list(self.paged),
            "delivered_at": self.delivered_at, "acknowledged_at": self.acknowledged_at,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Alert:
        # an outbox written before the one shape said "kind": "alert" and the alert's kind as "name"
        kind = d["name"] if d.get("kind") == "alert" else d["kind"]
        return cls(
            id=d["id"], kind=AlertKind(kind), severity=Severity(d["severity"]), resident=d["resident"],
            room=d["room"], sensor=d["sensor"], started=d["started"], evidence=d.get("evidence", {}),
            state=AlertState(d["state"]), raised_at=d["raised_at"], delivered_at=d.get("delivered_at"),
            acknowledged_at=d.get("acknowledged_at"), acknowledged_by=d.get("acknowledged_by"),
            resolved_at=d.get("resolved_at"), paged=tuple(d.get("paged", ())),
        )

    def shifted(self, delta: float) -> Alert:
        """The same alert with its times moved by ``delta`` (the clock was set after it was raised)."""
        return dataclasses.replace(self, started=self.started + delta, raised_at=self.raised_at + delta,
                                   resolved_at=None if self.resolved_at is None else self.resolved_at + delta)

    def advance(self, state: AlertState, t: float, by: str | None = None) -> Alert:
        stamps: dict[str, Any] = {"state": state}
        if state == AlertState.DELIVERED:
            stamps["delivered_at"] = t
        elif state == AlertState.ACKNOWLEDGED:
            stamps |= {"acknowledged_at": t, "acknowledged_by": by}
        elif state == AlertState.RESOLVED:
            stamps["resolved_at"] = t
        return dataclasses.replace(self, **stamps)


def alert_id(gateway: str, kind: str, resident: str, sensor: str, t: float) -> str:
    raw = f"{gateway}|{kind}|{resident}|{sensor}|{round(t * 1000)}".encode()
    return hashlib.sha256(raw).hexdigest()[:20]


class AlertEngine:
    """Events in, alert changes out. Holds the open alerts, one per condition."""

    def __init__(self, gateway_id: str) -> None:
        self.gateway_id = gateway_id
        self.open: dict[tuple[str, str, str], Alert] = {}
        self._sources: dict[tuple[str, str, str], set[str]] = {}  # shared alarms: the sensors sounding

    def restore(self, alerts: list[Alert]) -> list[Alert]:
        """After a restart: the alerts still open in the store are open again here (returned).
        An acknowledged SOS is not: the next press is a new alert."""
        restored = [a for a in alerts if a.is_open]
        for a in restored:
            self.open[a.key] = a
            self._sources[a.key] = {a.sensor}
        return restored

    def on_event(self, e: Event) -> list[Alert]:
        if e.name in RAISES:
            return self._raise(e, *RAISES[e.name])
        if e.name in CLEARS:
            return self._clear(e, CLEARS[e.name])
        return []

    def _raise(self, e: Event, kind: AlertKind, severity: Severity) -> list[Alert]:
        key = (str(kind), e.resident, e.sensor if kind in _PER_SENSOR else "")
        self._sources.setdefault(key, set()).add(e.sensor)
        if key in self.open:
            return []  # dedupe: the condition already has an open alert
        evidence: dict[str, Any] = {"event": str(e.name), **dict(e.details)}
        if e.value is not None:
            evidence["value"] = round(e.value, 2)
        if kind in URGENT_WHEN_SAID and e.details.get("urgent") is True:
            severity = Severity.CRITICAL
        a = Alert(alert_id(self.gateway_id, kind, e.resident, key[2], e.t), kind, severity,
                  e.resident, e.room, e.sensor, e.t, evidence, raised_at=e.t)
        self.open[key] = a
        return [a]

    def _clear(self, e: Event, kind: AlertKind) -> list[Alert]:
        key = (str(kind), e.resident, e.sensor if kind in _PER_SENSOR else "")
        sources = self._sources.get(key, set())
        sources.discard(e.sensor)
        if kind in _SHARED and sources:
            return []  # another sensor still sounds this alarm
        self._sources.pop(key, None)
        a = self.open.pop(key, None)
        if a is None:
            return []
        return [a.advance(AlertState.RESOLVED, e.t)]

    def shift_times(self, delta: float) -> list[Alert]:
        """The wall clock was wrong when these alerts were raised (set late, after a boot without
        network): move their times by the correction so they say when things really happened."""
        for key, a in list(self.open.items()):
            self.open[key] = a.shifted(delta)
        return list(self.open.values())

    def delivered(self, alert_id_: str, t: float) -> Alert | None:
        """The community server has the alert: stamp it delivered (once)."""
        for key, a in self.open.items():
            if a.id == alert_id_ and a.state == AlertState.RAISED:
                self.open[key] = a.advance(AlertState.DELIVERED, t)
                return self.open[key]
        return None

    def test_alert(self, t: float) -> list[Alert]:
        a = Alert(alert_id(self.gateway_id, "test", "", "", t), AlertKind.TEST, Severity.INFO, "", "", "", t,
                  {"event": "test_alert"}, raised_at=t)
        return [a, a.advance(AlertState.RESOLVED, t)]

    def storage_fault(self, t: float, aside: str) -> list[Alert]:
        """The gateway's database was damaged and replaced (kept as ``aside``): the grid worker
        should know that history before ``t`` may be incomplete. Answered, it is closed."""
        a = Alert(alert_id(self.gateway_id, "storage_fault", "", aside, t), AlertKind.STORAGE_FAULT,
                  Severity.WARNING, "", "", "", t, {"event": "storage_fault", "moved_aside": aside}, raised_at=t)
        if a.key in self.open:
            return []  # the last one is not answered yet: one notice is enough
        self.open[a.key] = a
        return [a]

    def note_paged(self, alert_id_: str, roles: tuple[str, ...]) -> Alert | None:
        """The box paged contacts in these roles for an open alert: remembered with it (and so in
        every later state it sends). None if the alert is no longer open here."""
        for key, a in self.open.items():
            if a.id == alert_id_:
                self.open[key] = dataclasses.replace(a, paged=tuple(sorted(set(a.paged) | set(roles))))
                return self.open[key]
        return None

    def acknowledge(self, alert_id_: str, by: str, t: float) -> Alert | None:
        for key, a in self.open.items():
            if a.id == alert_id_:
                if a.state == AlertState.ACKNOWLEDGED:
                    return None  # already acknowledged: the first answer stands
                acked = a.advance(AlertState.ACKNOWLEDGED, t, by)
                self.open[key] = acked
                if not acked.is_open:  # nothing clears an SOS but a person answering it
                    del self.open[key]
                    self._sources.pop(key, None)
                return acked
        return None
