"""Outings: the front door, then nobody anywhere inside, is the resident going out; presence
inside again is their coming back. An outing longer than this resident usually takes at that time
of day is "not back" (`not_back`): once, sooner at night, in the cold or for a resident at risk of
getting lost, and it ends with their return, saying how long they were out.

The usual length is learned from the resident's own outings, per part of the day (the 90th
percentile of at least five outings that began in it, with a margin), between a floor and a
ceiling; until there are five, a default. A visitor leaving while the resident is still inside is
no outing: someone is still seen at home. A departure at night is the night watch's (wandering,
signal/night.py); this watch still follows it, to say when they came back.

Times are the data's own (Unix seconds); local time of day from the configured time zone."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from eldergate.signal.model import Event, EventName
from eldergate.signal.night import is_night

# parts of the day an outing may begin in (local hours, start inclusive): morning market, midday,
# afternoon walk, evening
PARTS = ((5, 11), (11, 14), (14, 18), (18, 24), (0, 5))
LEARN_MIN = 5  # outings of a part of the day before their lengths are trusted
KEPT = 120  # outings remembered per resident


@dataclass(frozen=True, slots=True)
class OutingSettings:
    timezone: str = "Asia/Shanghai"
    night_start: time = time(22, 0)
    night_end: time = time(6, 30)
    default_s: float = 2 * 3600.0  # the usual length until there are enough outings to learn from
    floor_s: float = 30 * 60.0
    ceiling_s: float = 4 * 3600.0
    margin: float = 1.5  # the learned 90th percentile times this
    night_after_s: float = 15 * 60.0  # out at night this long: not back
    at_risk: bool = False  # a resident at risk of getting lost: half the usual length, urgent
    cold_below_c: float = 0.0  # outdoors colder than this: half the usual length, urgent
    confirm_s: float = 120.0  # nobody inside this long after the door: out (a radar's hold, a bathroom)
    door_window_s: float = 10 * 60.0  # the home must empty within this after the door opened


def part_of_day(t: float, tz: ZoneInfo) -> int:
    hour = datetime.fromtimestamp(t, tz).hour
    return next(i for i, (a, b) in enumerate(PARTS) if a <= hour < b)


class OutingWatch:
    def __init__(self, resident: str, settings: OutingSettings | None = None) -> None:
        self.s = settings or OutingSettings()
        self.resident = resident
        self._tz = ZoneInfo(self.s.timezone)
        self._door_t: float | None = None
        self._occupied_at_door = False
        self._occupied = True
        self._empty_since: float | None = None
        self._seen_t: float | None = None  # someone last seen inside
        self.out_since: float | None = None
        self._raised = False
        self.outdoor_c: float | None = None  # set by the community (cmd outdoor_temperature)
        self.history: deque[tuple[float, float]] = deque(maxlen=KEPT)  # (start, seconds out)
        self.suppressed = False  # several people present: nobody is alone to be missed

    # -- inputs -----------------------------------------------------------------------------

    def door_opened(self, t: float, front_door: bool) -> list[Event]:
        if front_door and self.out_since is None:
            # someone was inside at the door, or just before it (out of the radar's view in the hall)
            seen = self._occupied or (self._seen_t is not None and t - self._seen_t <= self.s.door_window_s)
            self._door_t, self._occupied_at_door = t, seen
        return []

    def home_presence(self, t: float, occupied: bool) -> list[Event]:
        out: list[Event] = []
        if occupied and self.out_since is not None:
            seconds = t - self.out_since
            self.history.append((self.out_since, seconds))
            out.append(Event(t, EventName.CAME_BACK, self.resident, value=round(seconds / 60.0, 1),
                             details={"out_min": round(seconds / 60.0, 1), "started": round(self.out_since, 3),
                                      "was_overdue": self._raised}))
            self.out_since, self._raised, self._door_t = None, False, None
        if not occupied and self._occupied:
            self._empty_since = t
        if occupied or self._occupied:
            self._seen_t = t
        self._occupied = occupied
        return out + self.tick(t)

    def remember(self, outings: list[tuple[float, float]]) -> None:
        """After a restart: the outings kept in the home's history."""
        for start, seconds in sorted(outings)[-KEPT:]:
            self.history.append((start, seconds))

    def resume(self, t: float) -> None:
        """After a restart with a not-back alert still open: out until seen back."""
        self.out_since, self._raised, self._occupied, self._empty_since = t, True, False, t

    # -- the usual length ---------------------------------------------------------------------

    def usual_s(self, start: float) -> float:
        part = part_of_day(start, self._tz)
        lengths = sorted(s for st, s in self.history if part_of_day(st, self._tz) == part)
        if len(lengths) < LEARN_MIN:
            base = self.s.default_s
        else:
            base = lengths[min(len(lengths) - 1, int(0.9 * len(lengths)))] * self.s.margin
        return min(self.s.ceiling_s, max(self.s.floor_s, base))

    def _cold(self) -> bool:
        return self.outdoor_c is not None and self.outdoor_c < self.s.cold_below_c

    def limit_s(self, start: float, t: float) -> tuple[float, list[str]]:
        """How long this outing may last before it is "not back", and why it is shorter than usual."""
        limit, why = self.usual_s(start), list[str]()
        if self.s.at_risk:
            limit, why = limit / 2, [*why, "at_risk"]
        if self._cold():
            limit, why = limit / 2, [*why, "cold"]
        if is_night(t, self.s.night_start, self.s.night_end, self._tz):
            limit, why = min(limit, self.s.night_after_s), [*why, "night"]
        return limit, why

    # -- timers -------------------------------------------------------------------------------

    def tick(self, t: float) -> list[Event]:
        out: list[Event] = []
        if self.out_since is None and self._door_t is not None and self._occupied_at_door and not self._occupied:
            empty_from = max(self._door_t, self._empty_since or self._door_t)
            if empty_from - self._door_t > self.s.door_window_s:
                self._door_t = None  # the home emptied long after the door: not this departure
            elif t - empty_from >= self.s.confirm_s:
                self.out_since = self._door_t
                out.append(Event(t, EventName.WENT_OUT, self.resident,
                                 details={"since_door_min": round((t - self._door_t) / 60.0, 1)}))
        if self.out_since is None or self._raised or self.suppressed:
            return out
        if is_night(self.out_since, self.s.night_start, self.s.night_end, self._tz):
            return out  # a departure at night is the night watch's (wandering)
        limit, why = self.limit_s(self.out_since, t)
        if t - self.out_since >= limit:
            self._raised = True
            minutes = (t - self.out_since) / 60.0
            details: dict[str, float | int | str | bool | None] = {
                "out_min": round(minutes, 1), "why": ",".join(why), "urgent": bool(why),
                "usual_min": round(self.usual_s(self.out_since) / 60.0)}
            if self.outdoor_c is not None:
                details["outdoor_c"] = round(self.outdoor_c, 1)
            out.append(Event(t, EventName.NOT_BACK, self.resident, value=round(minutes, 1), details=details))
        return out
