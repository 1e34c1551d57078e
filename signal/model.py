"""What the signal pipeline derives: observations (a value with a quality) and events.

Both are immutable and serialise to the one JSON shape that ``eldergate replay --json``
prints: ``t``, ``kind``, ``name``, ``value``, ``sensor``, ``resident`` and the rest.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class EventName(enum.StrEnum):
    # bed and sleep
    BED_ENTRY = "bed_entry"
    BED_EXIT = "bed_exit"
    BED_RETURN = "bed_return"
    TURNOVER = "turnover"
    SLEEP_START = "sleep_start"
    SLEEP_END = "sleep_end"
    # falls and stillness
    POSSIBLE_FALL = "possible_fall"
    FALL = "fall"  # confirmed: the person stayed down
    FALL_CANCELLED = "fall_cancelled"
    FALL_RECOVERED = "fall_recovered"  # got up after a confirmed fall
    LONG_LIE = "long_lie"
    LONG_LIE_ENDED = "long_lie_ended"
    INACTIVITY = "inactivity"
    ACTIVITY_RESUMED = "activity_resumed"
    # nights
    OUT_OF_BED_AT_NIGHT = "out_of_bed_at_night"
    WANDERING = "wandering"
    RETURNED_HOME = "returned_home"
    WENT_OUT = "went_out"  # the front door, then nobody inside (signal/outings.py)
    NOT_BACK = "not_back"  # out longer than usual
    CAME_BACK = "came_back"  # presence inside again after an outing
    STAYED_UP_ALL_NIGHT = "stayed_up_all_night"  # at home all night, never in bed (armchair)
    # vitals
    ABNORMAL_HEART_RATE = "abnormal_heart_rate"
    ABNORMAL_BREATHING_RATE = "abnormal_breathing_rate"
    VITALS_NORMAL = "vitals_normal"
    APNOEA = "apnoea"
    BREATHING_RESUMED = "breathing_resumed"
    # home sensors
    DOOR_OPENED = "door_opened"
    DOOR_CLOSED = "door_closed"
    GAS = "gas"
    GAS_CLEARED = "gas_cleared"
    SMOKE = "smoke"
    SMOKE_CLEARED = "smoke_cleared"
    SMOKE_TEST = "smoke_test"
    CARBON_MONOXIDE = "carbon_monoxide"
    CARBON_MONOXIDE_CLEARED = "carbon_monoxide_cleared"
    WATER_LEAK = "water_leak"
    WATER_LEAK_CLEARED = "water_leak_cleared"
    SOS = "sos"
    # people
    SEVERAL_PEOPLE = "several_people"
    ALONE_AGAIN = "alone_again"
    # sensor health (raised by the gateway's supervision, same model)
    SENSOR_SILENT = "sensor_silent"
    SENSOR_RECOVERED = "sensor_recovered"
    BATTERY_LOW = "battery_low"
    BATTERY_OK = "battery_ok"
    TAMPER = "tamper"
    TAMPER_CLEARED = "tamper_cleared"
    BRIDGE_OFFLINE = "bridge_offline"
    BRIDGE_ONLINE = "bridge_online"
    # the box itself: its diagnostic report, asked for by the community server (cmd "diagnostics")
    DIAGNOSTICS = "diagnostics"


@dataclass(frozen=True, slots=True)
class Observation:
    """A derived value: a heart rate, an occupancy state. ``value`` None means no estimate."""

    t: float
    name: str
    value: float | bool | None
    sensor: str = ""
    resident: str = ""
    quality: float | None = None
    reason: str | None = None
    unit: str | None = None

    def to_json(self) -> dict[str, Any]:
        value = round(self.value, 2) if isinstance(self.value, float) else self.value
        out: dict[str, Any] = {
            "t": round(self.t, 3),
            "kind": "observation",
            "name": self.name,
            "value": value,
            "sensor": self.sensor,
            "resident": self.resident,
        }
        if self.quality is not None:
            out["quality"] = round(self.quality, 3)
        if self.reason is not None or self.value is None:
            out["reason"] = self.reason
        if self.unit is not None:
            out["unit"] = self.unit
        return out


@dataclass(frozen=True, slots=True)
class Event:
    """Something happened. ``details`` carries the evidence (numbers, never raw waveforms)."""

    t: float
    name: EventName
    resident: str = ""
    room: str = ""
    sensor: str = ""
    value: float | None = None
    details: Mapping[str, float | int | str | bool | None] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "t": round(self.t, 3),
            "kind": "event",
            "name": str(self.name),
            "value": None if self.value is None else round(self.value, 2),
            "sensor": self.sensor,
            "resident": self.resident,
            "room": self.room,
            "details": dict(self.details),
        }
