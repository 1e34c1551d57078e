"""The bed radar's readings for its resident: presence in the bed's distance band, the device's own
bed and motion flags, its vitals, and the chest displacement the home's own vitals estimator turns
into heart and breathing rates (signal/vitals.py) and their limits (signal/vital_limits.py)."""

from __future__ import annotations

from eldergate.config.schema import Sensor
from eldergate.drivers.readings import (
    BedOccupancy,
    ChestDisplacement,
    DeviceVitals,
    Distance,
    Motion,
    Presence,
    Reading,
)
from eldergate.gateway.core.output import Output
from eldergate.gateway.core.resident_state import ResidentState, bed_events, home_presence, limit_watch
from eldergate.signal.model import Observation
from eldergate.signal.vitals import NoEstimate, VitalsEstimator, VitalsSettings


class BedRadars:
    def __init__(self) -> None:
        self.vitals: dict[str, VitalsEstimator] = {}  # bed radar -> its estimator
        self.usual_heart: dict[str, float] = {}  # resident -> resting heart rate of the last night
        self._distance: dict[str, float | None] = {}
        self._has_presence: set[str] = set()

    def route(self, r: Reading, s: Sensor, rs: ResidentState) -> list[Output]:
        if isinstance(r, ChestDisplacement):
            return self._chest(r, s, rs)
        if isinstance(r, Distance):
            self._distance[s.id] = r.distance_m
            return []
        if isinstance(r, Presence):
            self._has_presence.add(s.id)
            in_bed = r.present and self._distance_in_band(s)
            rs.presence[s.id] = r.present
            out: list[Output] = list(rs.bed.evidence(r.t, f"{s.id}:presence", in_bed))
            return out + bed_events(out, rs) + home_presence(r.t, rs)
        if isinstance(r, BedOccupancy):
            self._has_presence.add(s.id)
            bed_state: list[Output] = list(rs.bed.evidence(r.t, f"{s.id}:device_bed", r.in_bed))
            return bed_state + bed_events(bed_state, rs)
        if isinstance(r, Motion):
            motion: list[Output] = list(rs.bed.motion(r.t, r.state == "active"))
            return motion
        if isinstance(r, DeviceVitals):
            return [Observation(r.t, name, v, s.id, rs.resident.id, unit="bpm")
                    for name, v in (("device_heart_rate_bpm", r.heart_rate_bpm),
                                    ("device_breathing_rate_bpm", r.breathing_rate_bpm)) if v is not None]
        return []

    def _distance_in_band(self, s: Sensor) -> bool:
        band = s.placement.bed_distance_m
        d = self._distance.get(s.id)
        return band is None or d is None or band[0] <= d <= band[1]

    def _chest(self, r: ChestDisplacement, s: Sensor, rs: ResidentState) -> list[Output]:
        est_r = self.vitals.get(s.id)
        if est_r is None:
            est_r = self.vitals[s.id] = VitalsEstimator(VitalsSettings.for_unit(r.unit))
            est_r.usual_heart_bpm = self.usual_heart.get(rs.resident.id)
        est = est_r.push(r.t, r.value)
        if est is None:
            return []
        out: list[Output] = []
        reason = None if est.reason is None else str(est.reason)
        out.append(Observation(est.t, "heart_rate_bpm", est.heart_rate_bpm, s.id, rs.resident.id,
                               est.heart_quality, reason, "bpm"))
        out.append(Observation(est.t, "breathing_rate_bpm", est.breathing_rate_bpm, s.id, rs.resident.id,
                               est.breathing_quality, reason if est.breathing_rate_bpm is None else None, "1/min"))
        if s.id not in self._has_presence and est.present is not None:
            out += rs.bed.evidence(est.t, f"{s.id}:breathing", est.present)
        motion: list[Output] = list(rs.bed.motion(est.t, est.moving))
        out += motion + bed_events(motion, rs)
        watch = limit_watch(rs, s.id)
        out += watch.estimate(est.t, est.heart_rate_bpm, est.breathing_rate_bpm)
        if est.reason != NoEstimate.WARMING_UP:
            out += watch.breathing_seen(est.t, rs.bed.in_bed, est.reason != NoEstimate.ABSENT)
        rs.summary.vitals(est.heart_rate_bpm, est.breathing_rate_bpm, rs.bed.in_bed and not est.moving)
        return out

    def clock_jumped(self) -> None:
        """The vitals windows' sample times no longer join up."""
        for est in self.vitals.values():
            est.reset()
