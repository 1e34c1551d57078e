"""The daily summary per resident: last night and day in numbers, with the day's events.

Fed the events and vitals the pipeline produced; asked for a summary each morning (and
on demand), after which it starts the next day's counts.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from eldergate.signal.model import Event, EventName

_LISTED = {
    EventName.BED_EXIT, EventName.BED_RETURN, EventName.POSSIBLE_FALL, EventName.FALL,
    EventName.FALL_CANCELLED, EventName.OUT_OF_BED_AT_NIGHT, EventName.WANDERING, EventName.RETURNED_HOME,
    EventName.GAS, EventName.SMOKE, EventName.CARBON_MONOXIDE, EventName.WATER_LEAK, EventName.SOS,
    EventName.LONG_LIE, EventName.INACTIVITY, EventName.APNOEA, EventName.ABNORMAL_HEART_RATE,
    EventName.ABNORMAL_BREATHING_RATE, EventName.DOOR_OPENED,
}


@dataclass(frozen=True, slots=True)
class DailySummary:
    resident: str
    period_start: float
    period_end: float
    bed_exits: int
    night_bed_exits: int
    turnovers: int
    sleep_min: float
    nap_min: float
    resting_heart_rate_bpm: float | None
    resting_breathing_rate_bpm: float | None
    active_min: float
    falls: int
    events: tuple[tuple[float, str], ...] = field(default_factory=tuple)
    did_not_go_to_bed: bool = False  # at home all last night and never in bed (an armchair night)

    def to_json(self) -> dict[str, Any]:
        return {
            "t": round(self.period_end, 3), "record": "summary", "name": "daily_summary", "value": None,
            "sensor": "", "resident": self.resident,
            "period_start": round(self.period_start, 3), "period_end": round(self.period_end, 3),
            "bed_exits": self.bed_exits, "night_bed_exits": self.night_bed_exits,
            "turnovers": self.turnovers, "sleep_min": round(self.sleep_min, 1), "nap_min": round(self.nap_min, 1),
            "resting_heart_rate_bpm": _r(self.resting_heart_rate_bpm),
            "resting_breathing_rate_bpm": _r(self.resting_breathing_rate_bpm),
            "active_min": round(self.active_min, 1), "falls": self.falls,
            "did_not_go_to_bed": self.did_not_go_to_bed,
            "events": [{"t": round(t, 3), "name": n} for t, n in self.events],
        }


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 1)


class SummaryBuilder:
    def __init__(self, resident: str, start: float) -> None:
        self.resident = resident
        self._active_base = 0.0  # the activity counter is cumulative; a day is the difference
        self._reset(start)

    def _reset(self, start: float) -> None:
        self.start = start
        self.bed_exits = self.night_exits = self.turnovers = self.falls = 0
        self.sleep_s = self.nap_s = 0.0
        self._sleep_from: tuple[float, bool] | None = None  # (start, at night)
        self._hr: list[float] = []
        self._br: list[float] = []
        self.events: list[tuple[float, str]] = []

    def event(self, e: Event, at_night: bool) -> None:
        if e.name == EventName.BED_EXIT:
            self.bed_exits += 1
            self.night_exits += int(at_night)
        elif e.name == EventName.TURNOVER:
            self.turnovers += 1
        elif e.name == EventName.FALL:
            self.falls += 1
        elif e.name == EventName.SLEEP_START:
            self._sleep_from = (e.t, at_night)
        elif e.name == EventName.SLEEP_END and self._sleep_from is not None:
            self._close_sleep(e.t, at_night)
        if e.name in _LISTED:
            self.events.append((e.t, str(e.name)))

    def _close_sleep(self, t: float, night_at_end: bool) -> None:
        assert self._sleep_from is not None
        start, night_at_start = self._sleep_from
        if night_at_start or night_at_end:  # a sleep that touches the night is the night's sleep
            self.sleep_s += max(0.0, t - start)
        else:
            self.nap_s += max(0.0, t - start)
        self._sleep_from = None

    def vitals(self, heart_rate: float | None, breathing_rate: float | None, resting: bool) -> None:
        # resting rates: taken lying still in bed; bounded memory (one per second is plenty)
        if resting and heart_rate is not None and len(self._hr) < 100_000:
            self._hr.append(heart_rate)
        if resting and breathing_rate is not None and len(self._br) < 100_000:
            self._br.append(breathing_rate)

    def summary(self, t: float, active_s: float, restart: bool = True, at_night: bool = False,
                did_not_go_to_bed: bool = False) -> DailySummary:
        """The figures since the last summary; ``active_s`` is the cumulative moving time."""
        if self._sleep_from is not None:  # still asleep: count up to now, keep counting after
            start, night = self._sleep_from
            self._close_sleep(t, at_night)
            self._sleep_from = (t, night) if restart else (start, night)
        s = DailySummary(
            self.resident, self.start, t, self.bed_exits, self.night_exits, self.turnovers,
            self.sleep_s / 60.0, self.nap_s / 60.0,
            statistics.median(self._hr) if self._hr else None,
            statistics.median(self._br) if self._br else None,
            (active_s - self._active_base) / 60.0, self.falls, tuple(self.events), did_not_go_to_bed,
        )
        if restart:
            self._active_base = active_s
            sleeping = self._sleep_from
            self._reset(t)
            self._sleep_from = sleeping
        return s
