"""Home sensors (doors, gas, smoke, CO, leaks, SOS, batteries): readings to edge events.

Zigbee2MQTT repeats every cached key in every message (ecosystem.md A1.1), so a battery
report can carry an old ``gas: true``: only a change of state is an event. A smoke alarm
with ``test`` set is a self-test, never a fire (A1.4).
"""

from __future__ import annotations

from eldergate.drivers.readings import Alarm, Battery, ButtonPress, Contact, Pulse, Reading, Tamper
from eldergate.signal.model import Event, EventName

_ALARM_EVENTS = {
    "gas": (EventName.GAS, EventName.GAS_CLEARED),
    "smoke": (EventName.SMOKE, EventName.SMOKE_CLEARED),
    "carbon_monoxide": (EventName.CARBON_MONOXIDE, EventName.CARBON_MONOXIDE_CLEARED),
    "water_leak": (EventName.WATER_LEAK, EventName.WATER_LEAK_CLEARED),
}
SOS_ACTIONS = frozenset({"emergency", "sos", "single", "double", "hold", "press", "panic"})
_PULSE_EVENTS = {
    "door_open": (EventName.DOOR_OPENED, None),
    "smoke": (EventName.SMOKE, EventName.SMOKE_CLEARED),
    "smoke_test": (EventName.SMOKE_TEST, None),
    "sos": (EventName.SOS, None),
    "water_leak": (EventName.WATER_LEAK, EventName.WATER_LEAK_CLEARED),
}
# the edge key each raising event sets (resume after a restart)
_RESUME_KEYS = {str(on): key for key, (on, _off) in _ALARM_EVENTS.items()} | {
    str(EventName.BATTERY_LOW): "battery_low", str(EventName.TAMPER): "tamper"}
BURST_S = 5.0  # repeats of one press within this are one press (ecosystem.md A2.3)
PULSE_IDLE_S = 300.0  # a pulse-only alarm that has gone quiet this long is over


class HomeSensorEvents:
    """Per sensor, remembers the last state of each key and emits events on change."""

    def __init__(self, resident: str, room: str, sensor: str, front_door: bool = False) -> None:
        self.resident, self.room, self.sensor = resident, room, sensor
        self.front_door = front_door
        self._state: dict[str, bool] = {}
        self._pulse_last: dict[str, float] = {}  # what -> last pulse time, while active

    def feed(self, r: Reading) -> list[Event]:
        if isinstance(r, Pulse):
            return self._pulse(r)
        if isinstance(r, Contact):
            # a door first seen open counts as an opening: after a restart that is the safe reading
            return self._edge(r.t, "contact_open", not r.closed, EventName.DOOR_OPENED, EventName.DOOR_CLOSED)
        if isinstance(r, Alarm):
            if r.alarm == "sos":
                return [self._event(r.t, EventName.SOS)] if r.active else []
            if r.test:
                return self._edge(r.t, f"{r.alarm}_test", r.active, EventName.SMOKE_TEST, None)
            on, off = _ALARM_EVENTS[r.alarm]
            return self._edge(r.t, r.alarm, r.active, on, off)
        if isinstance(r, ButtonPress):
            return [self._event(r.t, EventName.SOS, action=r.action)] if r.action in SOS_ACTIONS else []
        if isinstance(r, Battery) and r.low is not None:
            return self._edge(r.t, "battery_low", r.low, EventName.BATTERY_LOW, EventName.BATTERY_OK)
        if isinstance(r, Tamper):
            return self._edge(r.t, "tamper", r.tampered, EventName.TAMPER, EventName.TAMPER_CLEARED)
        return []

    def _pulse(self, r: Pulse) -> list[Event]:
        last = self._pulse_last.get(r.what)
        self._pulse_last[r.what] = r.t
        if last is not None and r.t - last < (PULSE_IDLE_S if _PULSE_EVENTS[r.what][1] else BURST_S):
            return []  # the same press repeating, or an alarm already sounding
        return [self._event(r.t, _PULSE_EVENTS[r.what][0], pulse=True)]

    def resume(self, t: float, raised_by: str, pulse: bool) -> None:
        """After a restart: the alarm that ``raised_by`` (an event name) raised is still open, so
        this sensor is in that state (docs/alert-lifecycle.md). A pulse alarm ends when quiet."""
        if pulse:
            what = next((w for w, (on, _off) in _PULSE_EVENTS.items() if on == raised_by and _off), None)
            if what is not None:
                self._pulse_last[what] = t  # still sounding: quiet for PULSE_IDLE_S from now ends it
            return
        key = _RESUME_KEYS.get(raised_by)
        if key is not None:
            self._state[key] = True

    def tick(self, t: float) -> list[Event]:
        """Pulse-only alarms return to idle when they go quiet."""
        out = []
        for what, last in list(self._pulse_last.items()):
            off = _PULSE_EVENTS[what][1]
            idle = PULSE_IDLE_S if off else BURST_S
            if t - last >= idle:
                del self._pulse_last[what]
                if off is not None:
                    out.append(self._event(t, off))
        return out

    def _edge(self, t: float, key: str, value: bool, on: EventName, off: EventName | None) -> list[Event]:
        before = self._state.get(key)
        self._state[key] = value
        if before == value:
            return []
        if before is None and not value:
            return []  # first report says "all quiet": nothing happened
        if value:
            return [self._event(t, on)]
        return [self._event(t, off)] if off is not None else []

    def _event(self, t: float, name: EventName, **details: str | bool) -> Event:
        if name in (EventName.DOOR_OPENED, EventName.DOOR_CLOSED):
            details = {**details, "front_door": self.front_door}
        return Event(t, name, self.resident, self.room, self.sensor, None, details)
