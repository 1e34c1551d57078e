"""One home's pipeline: readings in (time order), observations, events and alerts out.

This is the wiring of the signal/ estimators for the sensors in the configuration: each reading
goes to its sensor's role (bed_radar.py, room_radar.py, the home sensors), supervision watches
every sensor (sensor_supervision.py), timers run the watches, and alerts come from the events. The
same object runs live (fed by the runtime's drivers) and in ``eldergate replay`` (fed
from a capture), so both produce the same events for the same bytes.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from eldergate.config.schema import Config, Resident, Sensor
from eldergate.drivers.readings import Alarm, Availability, ButtonPress, GasConcentration, Reading
from eldergate.gateway.core.alerts import Alert, AlertEngine, AlertKind
from eldergate.gateway.core.bed_radar import BedRadars
from eldergate.gateway.core.output import Output
from eldergate.gateway.core.resident_state import (
    ResidentState,
    bed_events,
    cancel_falls,
    fall_detector,
    limit_watch,
)
from eldergate.gateway.core.room_radar import RoomRadars
from eldergate.gateway.core.sensor_supervision import SensorSupervision
from eldergate.signal.activity import ActivityMonitor, ActivitySettings
from eldergate.signal.bed import BedMonitor
from eldergate.signal.home_sensors import HomeSensorEvents
from eldergate.signal.model import Event, EventName
from eldergate.signal.night import NightSettings, NightWatch
from eldergate.signal.outings import OutingSettings, OutingWatch
from eldergate.signal.summary import DailySummary, SummaryBuilder

log = logging.getLogger(__name__)


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
        self.supervision = SensorSupervision(cfg)
        self.bed_radars = BedRadars()
        self.room_radars = RoomRadars()
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
        out: list[Output] = list(self.supervision.heard(r.t, s))
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
        out: list[Output] = list(self.supervision.tick(t))
        for hs in self._home_events.values():
            out += hs.tick(t)
        for rs in self.residents.values():
            bed: list[Output] = list(rs.bed.tick(t))
            out += bed + bed_events(bed, rs)
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
            self.supervision.resume_offline(s, raised_by, str(a.evidence.get("scope", "device")))
        if rs is None:
            return
        if a.kind == AlertKind.FALL and s is not None:
            fall_detector(s, rs).resume_fallen(t)
        elif a.kind in (AlertKind.ABNORMAL_VITALS, AlertKind.APNOEA):
            limit_watch(rs, a.sensor).resume(raised_by)
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
        self.supervision.clock_jumped(t)
        self.bed_radars.clock_jumped()
        self._last_tick = t
        self._next_summary = None

    def silent_sensors(self) -> set[str]:
        return self.supervision.silent_sensors()

    def summary_now(self, t: float, restart: bool = False) -> list[DailySummary]:
        return [rs.summary.summary(t, rs.activity.moving_s, restart, rs.night.night(t), rs.night.did_not_go_to_bed)
                for rs in self.residents.values()]

    # -- routing ------------------------------------------------------------------------

    def _route(self, r: Reading, s: Sensor, rs: ResidentState) -> list[Output]:
        if s.role == "bed_radar":
            return self.bed_radars.route(r, s, rs)
        if s.role in ("room_radar", "presence"):
            return self.room_radars.route(r, s, rs)
        if isinstance(r, ButtonPress) and r.action == "single":
            # the pre-alarm asks "press the button if you are all right": inside the cancel window a
            # single press cancels a possible fall; outside it, or held/double/emergency, it is an SOS
            cancelled = cancel_falls(r.t, rs, "ok_button")
            if cancelled:
                return cancelled
        if isinstance(r, GasConcentration) and s.gas is not None:
            r = Alarm(alarm="carbon_monoxide" if s.gas.gas == "co" else "gas", active=r.value > s.gas.alarm_above,
                      t=r.t, sensor=r.sensor)
        out: list[Output] = list(self._home_events[s.id].feed(r))
        if isinstance(r, Availability):
            out += self.supervision.availability(r, s, rs.resident.id)
        for e in out:
            if isinstance(e, Event) and e.name == EventName.DOOR_OPENED:
                rs.last_door_open = e.t
                out += rs.night.door_opened(e.t, s.placement.front_door)
                out += rs.outings.door_opened(e.t, s.placement.front_door)
        return out

    # -- cross-cutting --------------------------------------------------------------------

    def _activity(self, t: float, rs: ResidentState) -> list[Output]:
        if rs.last_activity is not None and t - rs.last_activity < 1.0:
            return []
        rs.last_activity = t
        present = any(rs.presence.values()) or rs.bed.in_bed
        door_recent = rs.last_door_open is not None and t - rs.last_door_open < rs.activity.s.inactivity_after_s
        out: list[Output] = list(rs.night.observe(t, rs.bed.in_bed, present))
        return out + list(rs.activity.observe(t, present, rs.moving, rs.bed.in_bed, rs.targets,
                                              not rs.night.night(t), door_recent, rs.posture))

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
        self.bed_radars.usual_heart.update(rates)
        for sensor_id, estimator in self.bed_radars.vitals.items():
            resident = self.cfg.resident_for(self.sensors[sensor_id]).id
            estimator.usual_heart_bpm = self.bed_radars.usual_heart.get(resident)

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
