"""What the home knows of one resident between readings, and the rules that join its watches: a
bed exit starts the night's clock, a return to bed cancels a possible fall, presence anywhere in
the home feeds the night and outing watches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from eldergate.config.schema import Resident, Sensor
from eldergate.gateway.core.output import Output
from eldergate.signal.activity import ActivityMonitor
from eldergate.signal.bed import BedMonitor
from eldergate.signal.falls import FallDetector, FallSettings
from eldergate.signal.model import Event, EventName
from eldergate.signal.night import NightWatch
from eldergate.signal.outings import OutingWatch
from eldergate.signal.summary import SummaryBuilder
from eldergate.signal.vital_limits import VitalLimits, VitalLimitWatch


@dataclass
class ResidentState:
    resident: Resident
    bed: BedMonitor
    night: NightWatch
    activity: ActivityMonitor
    summary: SummaryBuilder
    outings: OutingWatch
    falls: dict[str, FallDetector] = field(default_factory=dict)
    limits: dict[str, VitalLimitWatch] = field(default_factory=dict)
    presence: dict[str, bool] = field(default_factory=dict)  # source -> someone seen
    moving: bool = False
    targets: int | None = None
    last_door_open: float | None = None
    in_zone: dict[str, bool] = field(default_factory=dict)
    posture: str | None = None  # of the one person still outside the bed: "floor", "seated", None unknown
    last_activity: float | None = None  # the activity rules run once a second, per resident


def bed_events(events: Sequence[Output], rs: ResidentState) -> list[Output]:
    """What the bed's events cause: an exit starts the night's out-of-bed clock; a return ends it
    and cancels a possible fall (the person was not on the floor)."""
    out: list[Output] = []
    for e in events:
        if isinstance(e, Event) and e.name == EventName.BED_EXIT:
            out += rs.night.bed_exit(e.t)
        elif isinstance(e, Event) and e.name in (EventName.BED_RETURN, EventName.BED_ENTRY):
            out += rs.night.bed_return(e.t)
            out += cancel_falls(e.t, rs, "back_in_bed")
    return out


def cancel_falls(t: float, rs: ResidentState, reason: str) -> list[Output]:
    window = rs.resident.thresholds.fall_cancel_window
    return [e for det in rs.falls.values() for e in det.cancel(t, reason, window)]


def home_presence(t: float, rs: ResidentState) -> list[Output]:
    occupied = any(rs.presence.values()) or rs.bed.in_bed
    return [*rs.night.home_presence(t, occupied), *rs.outings.home_presence(t, occupied)]


def fall_detector(s: Sensor, rs: ResidentState, person: int | None = None) -> FallDetector:
    """One detector per person in a radar's view (``person`` None: the radar's own fall flag)."""
    key = s.id if person is None else f"{s.id}#{person}"
    det = rs.falls.get(key)
    if det is None:
        th = rs.resident.thresholds
        det = rs.falls[key] = FallDetector(rs.resident.id, s.room, s.id,
                                           FallSettings(confirm_after_s=th.fall_confirm_after))
    return det


def limit_watch(rs: ResidentState, sensor: str) -> VitalLimitWatch:
    """The resident's vital-sign limits, watched per bed radar."""
    watch = rs.limits.get(sensor)
    if watch is None:
        th = rs.resident.thresholds
        watch = rs.limits[sensor] = VitalLimitWatch(rs.resident.id, sensor, VitalLimits(
            th.heart_rate_min_bpm, th.heart_rate_max_bpm, th.breathing_rate_min_bpm,
            th.breathing_rate_max_bpm, th.abnormal_vitals_after, th.apnoea_after))
    return watch
