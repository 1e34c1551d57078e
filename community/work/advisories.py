"""Early-warning advisories: a resident's own baseline over the 14 nights before the last three,
and a gentle note to the grid worker (not an alarm) when the last three nights moved away from it.
Each advisory says which numbers moved and since when.

Rules (medians, so one odd night does not set them off):
- night-time bed exits at least doubled, and up by at least 2 a night;
- sleep below 60 % of the usual;
- resting heart rate up by 10 bpm or more;
- daytime activity below 60 % of the usual;
- no sleep at all last night ("did not go to bed").
At least 7 nights of baseline are needed; with fewer there is no advisory.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

RECENT, BASELINE, MIN_BASELINE = 3, 14, 7


@dataclass(frozen=True)
class Night:
    """One daily summary's figures (the gateway's SummaryMessage.figures) and when it ended."""

    end: datetime
    night_bed_exits: float | None
    sleep_min: float | None
    resting_heart_rate_bpm: float | None
    active_min: float | None

    @classmethod
    def from_figures(cls, end: datetime, f: dict[str, Any]) -> Night:
        def num(k: str) -> float | None:
            v = f.get(k)
            return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None

        return cls(end, num("night_bed_exits"), num("sleep_min"), num("resting_heart_rate_bpm"), num("active_min"))


@dataclass(frozen=True)
class Advisory:
    key: str  # words.T key: adv_night_exits, adv_sleep, adv_hr, adv_activity, adv_no_bed
    now: float | None
    base: float | None
    since: datetime


def _median(values: Sequence[float | None]) -> float | None:
    vs = [v for v in values if v is not None]
    return statistics.median(vs) if vs else None


def advisories(nights: Sequence[Night]) -> list[Advisory]:
    nights = sorted(nights, key=lambda n: n.end)
    if len(nights) < RECENT + MIN_BASELINE:
        return []
    recent, base = nights[-RECENT:], nights[-RECENT - BASELINE:-RECENT]
    since = recent[0].end
    out: list[Advisory] = []

    def pick(attr: str) -> tuple[float | None, float | None]:
        return _median([getattr(n, attr) for n in recent]), _median([getattr(n, attr) for n in base])

    now, usual = pick("night_bed_exits")
    if now is not None and usual is not None and now >= max(2 * usual, usual + 2):
        out.append(Advisory("adv_night_exits", round(now, 1), round(usual, 1), since))
    last_sleep = nights[-1].sleep_min
    now, usual = pick("sleep_min")
    if last_sleep is not None and last_sleep == 0 and (usual or 0) > 60:
        out.append(Advisory("adv_no_bed", 0, round(usual or 0), nights[-1].end))
    elif now is not None and usual is not None and usual > 60 and now < 0.6 * usual:
        out.append(Advisory("adv_sleep", round(now), round(usual), since))
    now, usual = pick("resting_heart_rate_bpm")
    if now is not None and usual is not None and now - usual >= 10:
        out.append(Advisory("adv_hr", round(now), round(usual), since))
    now, usual = pick("active_min")
    if now is not None and usual is not None and usual >= 30 and now < 0.6 * usual:
        out.append(Advisory("adv_activity", round(now), round(usual), since))
    return out
