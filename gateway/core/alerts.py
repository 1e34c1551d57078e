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

from eldergate.signal.model import Event, EventName


class Severity(enum.StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


class AlertKind(enum.StrEnum):
    FALL = "fall"
    GAS = "gas"
    SMOKE = "smoke"
    CARBON_MONOXIDE = "carbon_monoxide"
    SOS = "sos"
    WATER_LEAK = "water_leak"
    ABNORMAL_VITALS = "abnormal_vitals"
    APNOEA = "apnoea"
    LONG_LIE = "long_lie"
    OUT_OF_BED_AT_NIGHT = "out_of_bed_at_night"
    WANDERING = "wandering"
    NOT_BACK = "not_back"  # out by day longer than usual (signal/outings.py); urgent in the cold or at risk
    DID_NOT_GO_TO_BED = "did_not_go_to_bed"  # at home all night and never in bed: one morning warning
    INACTIVITY = "inactivity"
    SENSOR_OFFLINE = "sensor_offline"
    LOW_BATTERY = "low_battery"
    TAMPER = "tamper"
    STORAGE_FAULT = "storage_fault"  # the gateway's own database was damaged and replaced
    TEST = "test"  # asked for by the community server (cmd test_alert): proves the path end to end


class AlertState(enum.StrEnum):
    RAISED = "raised"
    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


# event that raises -> (alert kind, severity); event that clears -> alert kind
RAISES: dict[EventName, tuple[AlertKind, Severity]] = {
    EventName.FALL: (AlertKind.FALL, Severity.CRITICAL),
    EventName.GAS: (AlertKind.GAS, Severity.CRITICAL),
    EventName.SMOKE: (AlertKind.SMOKE, Severity.CRITICAL),
    EventName.CARBON_MONOXIDE: (AlertKind.CARBON_MONOXIDE, Severity.CRITICAL),
    EventName.SOS: (AlertKind.SOS, Severity.CRITICAL),
    EventName.WATER_LEAK: (AlertKind.WATER_LEAK, Severity.WARNING),
    EventName.ABNORMAL_HEART_RATE: (AlertKind.ABNORMAL_VITALS, Severity.WARNING),
    EventName.ABNORMAL_BREATHING_RATE: (AlertKind.ABNORMAL_VITALS, Severity.WARNING),
    EventName.APNOEA: (AlertKind.APNOEA, Severity.CRITICAL),
    EventName.LONG_LIE: (AlertKind.LONG_LIE, Severity.CRITICAL),
    EventName.OUT_OF_BED_AT_NIGHT: (AlertKind.OUT_OF_BED_AT_NIGHT, Severity.WARNING),
    EventName.WANDERING: (AlertKind.WANDERING, Severity.CRITICAL),
    EventName.NOT_BACK: (AlertKind.NOT_BACK, Severity.WARNING),  # critical when the event says urgent
    EventName.STAYED_UP_ALL_NIGHT: (AlertKind.DID_NOT_GO_TO_BED, Severity.WARNING),
    EventName.INACTIVITY: (AlertKind.INACTIVITY, Severity.WARNING),
    EventName.SENSOR_SILENT: (AlertKind.SENSOR_OFFLINE, Severity.WARNING),
    EventName.BRIDGE_OFFLINE: (AlertKind.SENSOR_OFFLINE, Severity.WARNING),
    EventName.BATTERY_LOW: (AlertKind.LOW_BATTERY, Severity.INFO),
    EventName.TAMPER: (AlertKind.TAMPER, Severity.WARNING),
}
CLEARS: dict[EventName, AlertKind] = {
    EventName.FALL_RECOVERED: AlertKind.FALL,
    EventName.GAS_CLEARED: AlertKind.GAS,
    EventName.SMOKE_CLEARED: AlertKind.SMOKE,
    EventName.CARBON_MONOXIDE_CLEARED: AlertKind.CARBON_MONOXIDE,
    EventName.WATER_LEAK_CLEARED: AlertKind.WATER_LEAK,
    EventName.VITALS_NORMAL: AlertKind.ABNORMAL_VITALS,
    EventName.BREATHING_RESUMED: AlertKind.APNOEA,
    EventName.LONG_LIE_ENDED: AlertKind.LONG_LIE,
    EventName.BED_RETURN: AlertKind.OUT_OF_BED_AT_NIGHT,
    EventName.BED_ENTRY: AlertKind.OUT_OF_BED_AT_NIGHT,  # after a restart the bed knows no exit: any entry ends it
    EventName.RETURNED_HOME: AlertKind.WANDERING,
    EventName.CAME_BACK: AlertKind.NOT_BACK,
    EventName.ACTIVITY_RESUMED: AlertKind.INACTIVITY,
    EventName.SENSOR_RECOVERED: AlertKind.SENSOR_OFFLINE,
    EventName.BRIDGE_ONLINE: AlertKind.SENSOR_OFFLINE,
    EventName.BATTERY_OK: AlertKind.LOW_BATTERY,
    EventName.TAMPER_CLEARED: AlertKind.TAMPER,
}
# alerts about a whole resident (one at a time) vs about one sensor (one per sensor)
_PER_SENSOR = {AlertKind.SENSOR_OFFLINE, AlertKind.LOW_BATTERY, AlertKind.TAMPER, AlertKind.WATER_LEAK}
# home-wide alarms that several sensors may report at once: the alert ends when the last one clears
_SHARED = frozenset({AlertKind.GAS, AlertKind.SMOKE, AlertKind.CARBON_MONOXIDE})
URGENT_WHEN_SAID = frozenset({AlertKind.NOT_BACK})  # the event's details["urgent"] raises its severity
# momentary alerts: no sensor state clears them, a person answering does (docs/alert-lifecycle.md)
CLOSED_BY_ACK = frozenset({AlertKind.SOS, AlertKind.TEST, AlertKind.STORAGE_FAULT, AlertKind.DID_NOT_GO_TO_BED})


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
        t = self.resolved_at if self.state == AlertState.RESOLVED and self.resolved_at else self.raised_at
        return {
            "t": round(t, 3), "kind": "alert", "name": str(self.kind), "value": None,
            "id": self.id, "severity": str(self.severity), "state": str(self.state),
            "sensor": self.sensor, "resident": self.resident, "room": self.room,
            "started": round(self.started, 3), "evidence": self.evidence,
            "raised_at": round(self.raised_at, 3),
            "delivered_at": self.delivered_at, "acknowledged_at": self.acknowledged_at,
            "acknowledged_by": self.acknowledged_by, "resolved_at": self.resolved_at,
            "paged": list(self.paged),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Alert:
        return cls(
            id=d["id"], kind=AlertKind(d["name"]), severity=Severity(d["severity"]), resident=d["resident"],
            room=d["room"], sensor=d["sensor"], started=d["started"], evidence=d.get("evidence", {}),
            state=AlertState(d["state"]), raised_at=d["raised_at"], delivered_at=d.get("delivered_at"),
            acknowledged_at=d.get("acknowledged_at"), acknowledged_by=d.get("acknowledged_by"),
            resolved_at=d.get("resolved_at"), paged=tuple(d.get("paged", ())),
        )

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
            self.open[key] = dataclasses.replace(a, started=a.started + delta, raised_at=a.raised_at + delta)
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
