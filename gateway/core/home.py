"""One home's pipeline: readings in (time order), observations, events and alerts out.

This is the wiring of the signal/ estimators for the sensors in the configuration. The
same object runs live (fed by the runtime's drivers) and in ``eldergate replay`` (fed
from a capture), so both produce the same events for the same bytes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from eldergate.config.schema import Config, Resident, Sensor
from eldergate.drivers.readings import (
    Alarm,
    Availability,
    BedOccupancy,
    ButtonPress,
    ChestDisplacement,
    DeviceFall,
    DeviceVitals,
    Distance,
    GasConcentration,
    Motion,
    Presence,
    Reading,
    TargetHeight,
    Targets,
)
from eldergate.gateway.core.alerts import Alert, AlertEngine, AlertKind
from eldergate.gateway.core.output import Output
from eldergate.signal.activity import ActivityMonitor, ActivitySettings
from eldergate.signal.bed import BedMonitor
from eldergate.signal.falls import FallDetector, FallSettings
from eldergate.signal.home_sensors import HomeSensorEvents
from eldergate.signal.model import Event, EventName, Observation
from eldergate.signal.night import NightSettings, NightWatch
from eldergate.signal.outings import OutingSettings, OutingWatch
from eldergate.signal.room import RoomTracks
from eldergate.signal.summary import DailySummary, SummaryBuilder
from eldergate.signal.vital_limits import VitalLimits, VitalLimitWatch
from eldergate.signal.vitals import NoEstimate, VitalsEstimator, VitalsSettings

log = logging.getLogger(__name__)


# how long a sensor may be silent before supervision says so, by role (config overrides)
DEFAULT_CHECK_IN_S = {
    "bed_radar": 120.0, "room_radar": 120.0, "presence": 120.0,
    "door": 25 * 3600.0, "gas": 25 * 3600.0, "smoke": 25 * 3600.0, "sos": 25 * 3600.0, "water_leak": 25 * 3600.0,
}
FLOOR_MAX_M = 0.5  # centroid at or below this, still, outside bed and chairs: lying on the floor


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


class _Silence:
    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self.last: float | None = None
        self.silent = False
        self.online: dict[str, bool] = {}  # availability scope (device, bridge) -> last said online


class Home:
    def __init__(self, cfg: Config, start: float | None = None) -> None:
        self.cfg = cfg
        self.tz = ZoneInfo(cfg.gateway.timezone)
        self.alerts = AlertEngine(cfg.gateway.id)
        self.residents = {r.id: self._resident_state(r, start or 0.0) for r in cfg.residents}
        self.sensors = {s.id: s for s in cfg.sensors}
        self._home_events = {
            s.id: HomeSensorEvents(cfg.resident_for(s).id, s.room, s.id, s.placement.front_door)
            for s in cfg.sensors
        }
        self._vitals: dict[str, VitalsEstimator] = {}
        self._usual_heart: dict[str, float] = {}  # resident -> resting heart rate of the last night
        self._distance: dict[str, float | None] = {}
        self._has_presence: set[str] = set()
        self._rooms: dict[str, RoomTracks] = {}  # room radar -> the people in its view
        self._height_source: dict[str, str] = {}  # room radar -> "centroid" or "top" (never both)
        self._silence = {
            s.id: _Silence(s.check_in or DEFAULT_CHECK_IN_S[s.role]) for s in cfg.sensors
        }
        self._last_tick: float | None = None
        self._next_summary: float | None = None
        self.last_t: float | None = start
        self.summaries: list[DailySummary] = []

    def _resident_state(self, r: Resident, start: float) -> ResidentState:
        th = r.thresholds
        bedroom = r.bedroom or next((s.room for s in self.cfg.sensors if s.role == "bed_radar"), "")
        night = NightSettings(th.night_start, th.night_end, self.cfg.gateway.timezone,
                              th.out_of_bed_at_night, th.wandering_after)
        activity = ActivitySettings(long_lie_after_s=th.long_lie_after, inactivity_after_s=th.inactivity_after)
        outing = OutingSettings(self.cfg.gateway.timezone, th.night_start, th.night_end, th.outing_usual,
                                th.outing_floor, th.outing_ceiling, night_after_s=th.wandering_after,
                                at_risk=r.at_risk_of_getting_lost, cold_below_c=th.cold_below_c)
        return ResidentState(r, BedMonitor(r.id, bedroom), NightWatch(r.id, night),
                             ActivityMonitor(r.id, activity), SummaryBuilder(r.id, start), OutingWatch(r.id, outing))

    # -- entry points -------------------------------------------------------------------

    def process(self, r: Reading) -> list[Output]:
        """One reading, in time order. Returns what it caused (not the reading itself)."""
        s = self.sensors.get(r.sensor)
        if s is None:
            return []
        self.last_t = r.t
        rs = self.residents[self.cfg.resident_for(s).id]
        out: list[Output] = self._supervise(r.t, s)
        out += self._route(r, s, rs)
        if self._last_tick is None or r.t - self._last_tick >= 1.0:
            out += self._timers(r.t)
        return self._with_alerts(out)

    def tick(self, t: float) -> list[Output]:
        """Time passed: timers fire (fall confirmation, nights, silence, summaries)."""
        return self._with_alerts(self._timers(t))

    @property
    def last_tick(self) -> float | None:
        """When the timers last ran (a tick, or a reading at least a second after the last)."""
        return self._last_tick

    def _timers(self, t: float) -> list[Output]:
        self._last_tick = t
        self.last_t = t
        out: list[Output] = []
        for sid, sil in self._silence.items():
            if sil.last is None:
                sil.last = t
            if not sil.silent and t - sil.last >= sil.limit_s:
                sil.silent = True
                s = self.sensors[sid]
                log.warning("sensor %s silent for %.0f s (check-in %.0f s)", sid, t - sil.last, sil.limit_s)
                out.append(Event(t, EventName.SENSOR_SILENT, self.cfg.resident_for(s).id, s.room, sid,
                                 details={"silent_s": round(t - sil.last, 1)}))
        for hs in self._home_events.values():
            out += hs.tick(t)
        for rs in self.residents.values():
            bed: list[Output] = list(rs.bed.tick(t))
            out += bed + self._bed_events(bed, rs)
            for det in rs.falls.values():
                out += det.tick(t)
            rs.night.suppressed = rs.activity.several
            out += rs.night.tick(t)
            rs.outings.suppressed = rs.activity.several
            out += rs.outings.tick(t)
            out += self._activity(t, rs)
        out += self._maybe_summary(t)
        return out

    def resume(self, stored: list[Alert], t: float) -> list[Alert]:
        """After a restart: the alerts still open in the store are open again, and whatever raised
        each one is put back in that state, so the event that ends it still resolves it and a new
        alarm after an acknowledgement is a new alert (docs/alert-lifecycle.md)."""
        restored = self.alerts.restore(stored)
        for a in restored:
            self._resume_source(a, t)
        return restored

    def _resume_source(self, a: Alert, t: float) -> None:
        raised_by = str(a.evidence.get("event", ""))
        s = self.sensors.get(a.sensor)
        rs = self.residents.get(a.resident)
        if s is not None and s.id in self._home_events:
            self._home_events[s.id].resume(t, raised_by, bool(a.evidence.get("pulse")))
        if a.kind == AlertKind.SENSOR_OFFLINE and s is not None:
            sil = self._silence[s.id]
            if raised_by == EventName.BRIDGE_OFFLINE:
                sil.online[str(a.evidence.get("scope", "device"))] = False
            else:
                sil.silent = True
        if rs is None:
            return
        if a.kind == AlertKind.FALL and s is not None:
            self._fall_detector(s, rs).resume_fallen(t)
        elif a.kind in (AlertKind.ABNORMAL_VITALS, AlertKind.APNOEA):
            self._limit_watch(rs, a.sensor).resume(raised_by)
        elif a.kind in (AlertKind.LONG_LIE, AlertKind.INACTIVITY):
            rs.activity.resume(t, long_lie=a.kind == AlertKind.LONG_LIE, inactive=a.kind == AlertKind.INACTIVITY)
        elif a.kind == AlertKind.NOT_BACK:
            rs.outings.resume(t)
        elif a.kind in (AlertKind.WANDERING, AlertKind.OUT_OF_BED_AT_NIGHT):
            rs.night.resume(t, wandering=a.kind == AlertKind.WANDERING,
                            out_of_bed=a.kind == AlertKind.OUT_OF_BED_AT_NIGHT)

    def clock_jumped(self, t: float, delta: float) -> None:
        """The wall clock jumped by ``delta`` s: restart the silence timers (a jump is not silence)
        and the vitals windows (their sample times no longer join up)."""
        log.warning("wall clock jumped by %+.0f s: timers restarted", delta)
        for sil in self._silence.values():
            sil.last = t if sil.last is not None else None
        for est in self._vitals.values():
            est.reset()
        self._last_tick = t
        self._next_summary = None

    def silent_sensors(self) -> set[str]:
        return {sid for sid, sil in self._silence.items() if sil.silent}

    def summary_now(self, t: float, restart: bool = False) -> list[DailySummary]:
        return [rs.summary.summary(t, rs.activity.moving_s, restart, rs.night.night(t), rs.night.did_not_go_to_bed)
                for rs in self.residents.values()]

    # -- routing ------------------------------------------------------------------------

    def _route(self, r: Reading, s: Sensor, rs: ResidentState) -> list[Output]:
        if s.role == "bed_radar":
            return self._bed_radar(r, s, rs)
        if s.role in ("room_radar", "presence"):
            return self._room_radar(r, s, rs)
        if isinstance(r, ButtonPress) and r.action == "single":
            # the pre-alarm asks "press the button if you are all right": inside the cancel window a
            # single press cancels a possible fall; outside it, or held/double/emergency, it is an SOS
            cancelled = self._cancel_falls(r.t, rs, "ok_button")
            if cancelled:
                return cancelled
        if isinstance(r, GasConcentration) and s.gas is not None:
            r = Alarm(alarm="carbon_monoxide" if s.gas.gas == "co" else "gas", active=r.value > s.gas.alarm_above,
                      t=r.t, sensor=r.sensor)
        out: list[Output] = list(self._home_events[s.id].feed(r))
        if isinstance(r, Availability):
            out += self._availability(r, s, rs)
        for e in out:
            if isinstance(e, Event) and e.name == EventName.DOOR_OPENED:
                rs.last_door_open = e.t
                out += rs.night.door_opened(e.t, s.placement.front_door)
                out += rs.outings.door_opened(e.t, s.placement.front_door)
        return out

    def _availability(self, r: Availability, s: Sensor, rs: ResidentState) -> list[Output]:
        online = self._silence[s.id].online
        before = online.get(r.scope)
        online[r.scope] = r.online
        if (before is None and r.online) or before == r.online:
            return []
        name = EventName.BRIDGE_ONLINE if r.online else EventName.BRIDGE_OFFLINE
        return [Event(r.t, name, rs.resident.id, s.room, s.id, details={"scope": r.scope})]

    def _bed_radar(self, r: Reading, s: Sensor, rs: ResidentState) -> list[Output]:
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
            return out + self._bed_events(out, rs) + self._home_presence(r.t, rs)
        if isinstance(r, BedOccupancy):
            self._has_presence.add(s.id)
            bed_state: list[Output] = list(rs.bed.evidence(r.t, f"{s.id}:device_bed", r.in_bed))
            return bed_state + self._bed_events(bed_state, rs)
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
        est_r = self._vitals.get(s.id)
        if est_r is None:
            est_r = self._vitals[s.id] = VitalsEstimator(VitalsSettings.for_unit(r.unit))
            est_r.usual_heart_bpm = self._usual_heart.get(rs.resident.id)
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
        bed_events: list[Output] = list(rs.bed.motion(est.t, est.moving))
        out += bed_events + self._bed_events(bed_events, rs)
        watch = self._limit_watch(rs, s.id)
        out += watch.estimate(est.t, est.heart_rate_bpm, est.breathing_rate_bpm)
        if est.reason != NoEstimate.WARMING_UP:
            out += watch.breathing_seen(est.t, rs.bed.in_bed, est.reason != NoEstimate.ABSENT)
        rs.summary.vitals(est.heart_rate_bpm, est.breathing_rate_bpm, rs.bed.in_bed and not est.moving)
        return out

    def _limit_watch(self, rs: ResidentState, sensor: str) -> VitalLimitWatch:
        watch = rs.limits.get(sensor)
        if watch is None:
            th = rs.resident.thresholds
            watch = rs.limits[sensor] = VitalLimitWatch(rs.resident.id, sensor, VitalLimits(
                th.heart_rate_min_bpm, th.heart_rate_max_bpm, th.breathing_rate_min_bpm,
                th.breathing_rate_max_bpm, th.abnormal_vitals_after, th.apnoea_after))
        return watch

    def _room_radar(self, r: Reading, s: Sensor, rs: ResidentState) -> list[Output]:
        out: list[Output] = []
        if isinstance(r, Targets):
            room = self._room(s)
            room.update(r.t, r.targets)
            rs.targets = room.tracked
            rs.presence[s.id] = room.present
            rs.moving = room.moving
            rs.posture = self._posture(room)
            if room.bed_zone is not None:
                evidence = room.bed_evidence(r.t)
                rs.in_zone[s.id] = bool(evidence) if evidence is not None else rs.bed.in_bed
                bed: list[Output] = list(rs.bed.evidence(r.t, f"{s.id}:zone", evidence))
                bed += rs.bed.motion(r.t, *room.sleeper_motion(r.t))  # turnovers: the sleeper's only
                out += bed + self._bed_events(bed, rs)
            if self._height_source.setdefault(s.id, "centroid") == "centroid":
                for tg in r.targets:
                    person = room.track_person(tg.id)
                    if tg.z is not None and person is not None:
                        out += self._fall_detector(s, rs, person).height(
                            r.t, tg.z, room.in_bed_zone(tg.x, tg.y), alone=room.alone)
                out += self._radar_fall_up(s, rs, r)
                self._forget_fall_detectors(s, rs, room)
            out += self._home_presence(r.t, rs)
        elif isinstance(r, TargetHeight):
            # TLV 1012 (top of the body): used only where targets carry no centroid height, and
            # then per person like the centroid; the two are never mixed in one history
            room = self._room(s)
            person = room.track_person(r.target_id) if r.target_id is not None else None
            if self._height_source.get(s.id) != "centroid" or person is None:
                # a radar that names no target (Seeed's fall radar) has one detector, its own
                self._height_source[s.id] = "top"
                in_bed = rs.in_zone.get(s.id, False) and (person is None or person == room.sleeper)
                out += self._fall_detector(s, rs, person).height(r.t, r.height_m, in_bed, alone=room.alone)
        elif isinstance(r, DeviceFall):
            out += self._fall_detector(s, rs).device_flag(r.t, r.fallen)
        elif isinstance(r, Presence):
            if not r.present:
                self._room(s).nobody_here()
            rs.presence[s.id] = r.present
            out += self._home_presence(r.t, rs)
        elif isinstance(r, Motion):
            rs.moving = r.state == "active"
        return out

    def _radar_fall_up(self, s: Sensor, rs: ResidentState, r: Targets) -> list[Output]:
        """The radar-wide detector (its own fall flag, or a fall still open at a restart, when
        nobody knows which person it was) ends when one person alone is seen up again."""
        det = rs.falls.get(s.id)
        if det is None or det.state == "up" or len(r.targets) != 1:
            return []
        tg = r.targets[0]
        if tg.z is None:
            return []
        return list(det.height(r.t, tg.z, self._room(s).in_bed_zone(tg.x, tg.y)))

    @staticmethod
    def _forget_fall_detectors(s: Sensor, rs: ResidentState, room: RoomTracks) -> None:
        """A person gone from the radar's view whose detector is "up" takes it with them: every
        walk into a room is a new person, and the timers tick every detector kept."""
        if len(rs.falls) <= len(room.people) + 1:
            return
        prefix = f"{s.id}#"
        for key in [k for k, det in rs.falls.items() if k.startswith(prefix) and det.state == "up"
                    and int(k[len(prefix):]) not in room.people]:
            del rs.falls[key]

    def _room(self, s: Sensor) -> RoomTracks:
        room = self._rooms.get(s.id)
        if room is None:
            room = self._rooms[s.id] = RoomTracks(s.placement.bed_zone, tuple(s.placement.chair_zones))
        return room

    @staticmethod
    def _posture(room: RoomTracks) -> str | None:
        """Of the one person still outside the bed: on the floor, or seated (a chair zone, or the
        centroid of someone sitting); None when the radar gives no height."""
        p = room.still_person()
        if p is None:
            return None
        if room.in_chair(p):
            return "seated"
        if p.z is None:
            return None
        return "floor" if p.z <= FLOOR_MAX_M else "seated"

    def _fall_detector(self, s: Sensor, rs: ResidentState, person: int | None = None) -> FallDetector:
        """One detector per person in a radar's view (``person`` None: the radar's own fall flag)."""
        key = s.id if person is None else f"{s.id}#{person}"
        det = rs.falls.get(key)
        if det is None:
            th = rs.resident.thresholds
            det = rs.falls[key] = FallDetector(rs.resident.id, s.room, s.id,
                                               FallSettings(confirm_after_s=th.fall_confirm_after))
        return det

    # -- cross-cutting --------------------------------------------------------------------

    def _bed_events(self, events: Sequence[Output], rs: ResidentState) -> list[Output]:
        out: list[Output] = []
        for e in events:
            if isinstance(e, Event) and e.name == EventName.BED_EXIT:
                out += rs.night.bed_exit(e.t)
            elif isinstance(e, Event) and e.name in (EventName.BED_RETURN, EventName.BED_ENTRY):
                out += rs.night.bed_return(e.t)
                out += self._cancel_falls(e.t, rs, "back_in_bed")
        return out

    def _cancel_falls(self, t: float, rs: ResidentState, reason: str) -> list[Output]:
        window = rs.resident.thresholds.fall_cancel_window
        return [e for det in rs.falls.values() for e in det.cancel(t, reason, window)]

    def _home_presence(self, t: float, rs: ResidentState) -> list[Output]:
        occupied = any(rs.presence.values()) or rs.bed.in_bed
        return [*rs.night.home_presence(t, occupied), *rs.outings.home_presence(t, occupied)]

    def _activity(self, t: float, rs: ResidentState) -> list[Output]:
        if rs.last_activity is not None and t - rs.last_activity < 1.0:
            return []
        rs.last_activity = t
        present = any(rs.presence.values()) or rs.bed.in_bed
        door_recent = rs.last_door_open is not None and t - rs.last_door_open < rs.activity.s.inactivity_after_s
        out: list[Output] = list(rs.night.observe(t, rs.bed.in_bed, present))
        return out + list(rs.activity.observe(t, present, rs.moving, rs.bed.in_bed, rs.targets,
                                              not rs.night.night(t), door_recent, rs.posture))

    def _supervise(self, t: float, s: Sensor) -> list[Output]:
        sil = self._silence[s.id]
        sil.last = t
        if not sil.silent:
            return []
        sil.silent = False
        log.info("sensor %s is reporting again", s.id)
        return [Event(t, EventName.SENSOR_RECOVERED, self.cfg.resident_for(s).id, s.room, s.id)]

    def _maybe_summary(self, t: float) -> list[Output]:
        if self._next_summary is None:
            self._next_summary = self._next_morning(t)
        if t < self._next_summary:
            return []
        self._next_summary = self._next_morning(t + 60.0)
        out = self.summary_now(t, restart=True)
        self.summaries += out
        self._remember_resting_heart(out)
        return list(out)

    def _remember_resting_heart(self, summaries: list[DailySummary]) -> None:
        self.remember_usual_heart({s.resident: s.resting_heart_rate_bpm for s in summaries
                                   if s.resting_heart_rate_bpm is not None})

    def remember_outings(self, outings: dict[str, list[tuple[float, float]]]) -> None:
        """After a restart: each resident's outings from the home's history, to learn their usual length."""
        for resident, kept in outings.items():
            if resident in self.residents:
                self.residents[resident].outings.remember(kept)

    def outdoor_temperature(self, celsius: float | None) -> None:
        """The community's outdoor temperature (cmd outdoor_temperature): outings run short in the cold."""
        for rs in self.residents.values():
            rs.outings.outdoor_c = celsius

    def remember_usual_heart(self, rates: dict[str, float]) -> None:
        """Last night's resting heart rate (this morning's summary, or the stored one after a
        restart) becomes the resident's usual rate: the estimator then withholds a rate an
        octave away from it (signal/heart.py)."""
        self._usual_heart.update(rates)
        for sensor_id, estimator in self._vitals.items():
            estimator.usual_heart_bpm = self._usual_heart.get(self.cfg.resident_for(self.sensors[sensor_id]).id)

    def _next_morning(self, t: float) -> float:
        """The next time, after t, one hour past the end of the night (summary time)."""
        end = self.cfg.residents[0].thresholds.night_end
        local = datetime.fromtimestamp(t, self.tz)
        cand = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0) + timedelta(hours=1)
        if cand.timestamp() <= t:
            cand += timedelta(days=1)
        return cand.timestamp()

    def _with_alerts(self, out: list[Output]) -> list[Output]:
        alerts: list[Output] = []
        for item in out:
            if isinstance(item, Event):
                self._summary_event(item)
                alerts += self.alerts.on_event(item)
        return out + alerts

    def _summary_event(self, e: Event) -> None:
        rs = self.residents.get(e.resident)
        if rs is not None:
            rs.summary.event(e, rs.night.night(e.t))
