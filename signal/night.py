"""Nights: out of bed too long, the front door opened and nobody back inside (wandering),
and a night spent at home without going to bed (dozing in an armchair).

"Out of bed too long at night" is about the night: an exit that runs into the night's end
(up at 06:10, night over at 06:30) is getting up for the day, and raises nothing.

Times are the data's own (Unix seconds); the local time of day comes from the configured
time zone, so the rules need no clock of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from eldergate.signal.model import Event, EventName


@dataclass(frozen=True, slots=True)
class NightSettings:
    night_start: time = time(22, 0)
    night_end: time = time(6, 30)
    timezone: str = "Asia/Shanghai"
    out_of_bed_limit_s: float = 30 * 60.0
    wandering_after_s: float = 15 * 60.0


def is_night(t: float, start: time, end: time, tz: ZoneInfo) -> bool:
    local = datetime.fromtimestamp(t, tz).time()
    if start <= end:
        return start <= local < end
    return local >= start or local < end


class NightWatch:
    def __init__(self, resident: str, settings: NightSettings | None = None) -> None:
        self.s = settings or NightSettings()
        self.resident = resident
        self._tz = ZoneInfo(self.s.timezone)
        self._exit_t: float | None = None
        self._out_raised = False
        self._door_open_t: float | None = None  # a night-time opening being watched
        self._wandering = False
        self._home_occupied = True
        self._empty_since: float | None = None
        self.suppressed = False  # several people present: the alone-rules stay quiet
        self._was_night: bool | None = None
        self._night_s = {"observed": 0.0, "present": 0.0}  # this night so far
        self._night_bed = False  # in bed at any time this night
        self._last_observe: float | None = None
        self.did_not_go_to_bed = False  # the last night ended without the resident in bed

    def night(self, t: float) -> bool:
        return is_night(t, self.s.night_start, self.s.night_end, self._tz)

    # -- inputs ---------------------------------------------------------------------------

    def bed_exit(self, t: float) -> list[Event]:
        self._exit_t = t if self.night(t) else None
        self._out_raised = False
        return []

    def bed_return(self, t: float) -> list[Event]:
        self._exit_t = None
        self._out_raised = False
        return []

    def door_opened(self, t: float, front_door: bool) -> list[Event]:
        if front_door and self.night(t):
            self._door_open_t = t
        return []

    def home_presence(self, t: float, occupied: bool) -> list[Event]:
        """Anyone seen anywhere inside (any room radar, the bed)."""
        out: list[Event] = []
        if occupied and not self._home_occupied:
            if self._wandering:
                self._wandering = False
                out.append(Event(t, EventName.RETURNED_HOME, self.resident))
            self._door_open_t = None
        if not occupied and self._home_occupied:
            self._empty_since = t
        self._home_occupied = occupied
        return out + self.tick(t)

    def resume(self, t: float, wandering: bool = False, out_of_bed: bool = False) -> None:
        """After a restart with a wandering or out-of-bed alert still open: out until seen back."""
        if wandering:
            self._wandering, self._home_occupied, self._door_open_t = True, False, t
            self._empty_since = t
        if out_of_bed:
            self._exit_t, self._out_raised = t, True

    def observe(self, t: float, in_bed: bool, present: bool) -> list[Event]:
        """Once a second: the night's record of presence and bed; at its end, one warning if the
        resident spent it at home and never went to bed (a morning note, not a page at 01:00)."""
        night = self.night(t)
        dt = 0.0 if self._last_observe is None else min(t - self._last_observe, 5.0)
        self._last_observe = t
        out: list[Event] = []
        if night:
            if not self._was_night:
                self._night_s = {"observed": 0.0, "present": 0.0}
                self._night_bed = False
            self._night_s["observed"] += dt
            self._night_s["present"] += dt if present or in_bed else 0.0
            self._night_bed = self._night_bed or in_bed
        elif self._was_night:
            obs = self._night_s["observed"]
            # at home for most of what was seen of the night, and that was most of a night
            self.did_not_go_to_bed = (not self._night_bed and obs >= 0.5 * self._night_length()
                                      and self._night_s["present"] >= 0.8 * obs)
            if self.did_not_go_to_bed and not self.suppressed:
                hours = self._night_s["present"] / 3600.0
                out.append(Event(t, EventName.STAYED_UP_ALL_NIGHT, self.resident, value=round(hours, 1),
                                 details={"present_h": round(hours, 1)}))
        self._was_night = night
        return out

    def _night_length(self) -> float:
        start = self.s.night_start.hour * 3600 + self.s.night_start.minute * 60
        end = self.s.night_end.hour * 3600 + self.s.night_end.minute * 60
        return float((end - start) % 86400)

    # -- timers ---------------------------------------------------------------------------

    def tick(self, t: float) -> list[Event]:
        out: list[Event] = []
        if self.suppressed:
            return out
        if self._exit_t is not None and not self._out_raised and not self.night(t):
            self._exit_t = None  # the night ended first: that exit was getting up for the day
        if self._exit_t is not None and not self._out_raised and t - self._exit_t >= self.s.out_of_bed_limit_s:
            self._out_raised = True
            minutes = (t - self._exit_t) / 60.0
            out.append(Event(t, EventName.OUT_OF_BED_AT_NIGHT, self.resident, value=minutes,
                             details={"out_of_bed_min": round(minutes, 1)}))
        if self._door_open_t is not None and not self._wandering and not self._home_occupied:
            empty_from = max(self._door_open_t, self._empty_since or self._door_open_t)
            if t - empty_from >= self.s.wandering_after_s:
                self._wandering = True
                minutes = (t - self._door_open_t) / 60.0
                out.append(Event(t, EventName.WANDERING, self.resident, value=minutes,
                                 details={"since_door_opened_min": round(minutes, 1)}))
        return out
