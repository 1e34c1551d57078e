"""What a driver saw: typed, immutable readings.

Every reading carries ``t`` (seconds on the runtime's clock when the bytes arrived, or the
capture's time in a replay) and ``sensor`` (the configured sensor id). Parsers do not know
either: they build readings with ``t=0.0, sensor=""`` and the transport stamps them with
:func:`stamp`, so a parser stays a pure function of its bytes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeVar


@dataclass(frozen=True, slots=True)
class Reading:
    """Base of every reading. ``kind`` names the reading in JSON output."""

    kind: ClassVar[str] = "reading"
    # a sample of a body's motion (chest displacement, a breathing or heart waveform): it leaves
    # the box only with the resident's recorded consent (telemetry.send_waveforms, a diagnostic
    # capture asked for with raw_waveforms)
    raw_waveform: ClassVar[bool] = False
    t: float = field(default=0.0, kw_only=True)
    sensor: str = field(default="", kw_only=True)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"record": "reading", "name": self.kind}
        for f in dataclasses.fields(self):
            out[f.name] = _jsonable(getattr(self, f.name))
        return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, bytes):
        return value.hex()
    return value


R = TypeVar("R", bound="Reading")


def stamp(reading: R, t: float, sensor: str) -> R:
    """Return ``reading`` with its arrival time and sensor id filled in."""
    return dataclasses.replace(reading, t=t, sensor=sensor)


# --- radar readings --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Presence(Reading):
    kind: ClassVar[str] = "presence"
    present: bool


@dataclass(frozen=True, slots=True)
class BedOccupancy(Reading):
    """A device's own in-bed / out-of-bed report (MR60BHA1 real-time mode)."""

    kind: ClassVar[str] = "bed_occupancy"
    in_bed: bool


@dataclass(frozen=True, slots=True)
class Motion(Reading):
    """Coarse motion state and, where the device gives one, a 0–100 energy."""

    kind: ClassVar[str] = "motion"
    state: Literal["none", "still", "active"]
    energy: float | None = None


@dataclass(frozen=True, slots=True)
class Distance(Reading):
    """Distance from the radar to the person, metres; ``None`` when the device says invalid."""

    kind: ClassVar[str] = "distance"
    distance_m: float | None


@dataclass(frozen=True, slots=True)
class ChestDisplacement(Reading):
    """One sample of the chest-motion waveform.

    ``value`` is displacement in mm (TI) or phase in the device's unit (Seeed); ``unit``
    says which. The estimator only needs a signal proportional to chest motion.
    """

    kind: ClassVar[str] = "chest_displacement"
    raw_waveform: ClassVar[bool] = True
    value: float
    unit: Literal["mm", "rad", "au"]
    breath: float | None = None
    heart: float | None = None


@dataclass(frozen=True, slots=True)
class DeviceVitals(Reading):
    """The radar's own heart and breathing rates (kept apart from eldergate's estimates)."""

    kind: ClassVar[str] = "device_vitals"
    heart_rate_bpm: float | None = None
    breathing_rate_bpm: float | None = None


@dataclass(frozen=True, slots=True)
class Target:
    """A tracked person. Metres, radar at the origin, y away from the radar, z up."""

    id: int
    x: float
    y: float
    z: float | None = None
    vx: float | None = None
    vy: float | None = None
    vz: float | None = None


@dataclass(frozen=True, slots=True)
class Targets(Reading):
    kind: ClassVar[str] = "targets"
    targets: tuple[Target, ...]


@dataclass(frozen=True, slots=True)
class TargetHeight(Reading):
    """Height of the tracked body above the floor, metres (MR60FDA2 height upload, TI 1012)."""

    kind: ClassVar[str] = "target_height"
    height_m: float
    target_id: int = 0


@dataclass(frozen=True, slots=True)
class DeviceFall(Reading):
    """The radar's own fall flag."""

    kind: ClassVar[str] = "device_fall"
    fallen: bool


# --- home sensors ------------------------------------------------------------------------

AlarmKind = Literal["gas", "smoke", "carbon_monoxide", "water_leak", "sos"]


@dataclass(frozen=True, slots=True)
class Contact(Reading):
    """Door or window contact: ``closed`` is True when the magnet is present."""

    kind: ClassVar[str] = "contact"
    closed: bool


@dataclass(frozen=True, slots=True)
class Alarm(Reading):
    """A life-safety alarm state. ``test`` marks a self-test, never a real alarm."""

    kind: ClassVar[str] = "alarm"
    alarm: AlarmKind
    active: bool
    test: bool = False


@dataclass(frozen=True, slots=True)
class ButtonPress(Reading):
    """A stateless press (SOS button ``action``); never cached, one per press."""

    kind: ClassVar[str] = "button_press"
    action: str


@dataclass(frozen=True, slots=True)
class Pulse(Reading):
    """A stateless report: the message itself is the news (a 433 MHz smoke alarm that only
    transmits when it sounds, a door contact that never sends "closed"). Bursts of repeats
    of one press are collapsed downstream."""

    kind: ClassVar[str] = "pulse"
    what: Literal["door_open", "smoke", "smoke_test", "sos", "water_leak"]


@dataclass(frozen=True, slots=True)
class GasConcentration(Reading):
    kind: ClassVar[str] = "gas_concentration"
    gas: str
    value: float
    unit: str


@dataclass(frozen=True, slots=True)
class Battery(Reading):
    kind: ClassVar[str] = "battery"
    percent: float | None = None
    low: bool | None = None


@dataclass(frozen=True, slots=True)
class Tamper(Reading):
    kind: ClassVar[str] = "tamper"
    tampered: bool


@dataclass(frozen=True, slots=True)
class LinkQuality(Reading):
    kind: ClassVar[str] = "link_quality"
    value: float


@dataclass(frozen=True, slots=True)
class Availability(Reading):
    """The bridge or device says it is online or offline (Z2M availability, bridge/state)."""

    kind: ClassVar[str] = "availability"
    online: bool
    scope: Literal["device", "bridge"] = "device"


@dataclass(frozen=True, slots=True)
class DeviceInfo(Reading):
    """Firmware version and similar replies to a query."""

    kind: ClassVar[str] = "device_info"
    text: str


@dataclass(frozen=True, slots=True)
class Unknown(Reading):
    """A well-formed frame of a type we do not decode: kept, not an error (protocols.md §6.6)."""

    kind: ClassVar[str] = "unknown"
    code: int
    payload: bytes
