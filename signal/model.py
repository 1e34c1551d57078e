"""What the signal pipeline derives: observations (a value with a quality) and events.

Both are immutable and serialise to the one JSON shape that ``eldergate replay --json``
prints: ``t``, ``record`` (which of them), ``name``, ``value``, ``sensor``, ``resident`` and the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from eldergate.contract.events import EventName

__all__ = ["Event", "EventName", "Observation"]


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
            "record": "observation",
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
            "record": "event",
            "name": str(self.name),
            "value": None if self.value is None else round(self.value, 2),
            "sensor": self.sensor,
            "resident": self.resident,
            "room": self.room,
            "details": dict(self.details),
        }
