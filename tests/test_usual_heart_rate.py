"""The resident's own resting heart rate from the last night is what the next night's heart
estimator checks octaves against (gateway/core/home.py, signal/heart.py)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from eldergate.config.loader import load_config
from eldergate.drivers.readings import ChestDisplacement
from eldergate.gateway.core.home import Home
from eldergate.signal.summary import DailySummary
from eldergate.signal.synthetic import ChestSignalSpec, make_chest_signal

from testutil import ROOT

TZ = ZoneInfo("Asia/Shanghai")


def test_the_morning_summary_gives_the_next_night_its_usual_heart_rate() -> None:
    cfg = load_config(ROOT / "config" / "demo.toml")
    start = dt.datetime(2026, 11, 22, 7, 21, tzinfo=TZ).timestamp()  # summary at 07:30 (night end + 1 h)
    home = Home(cfg, start=start)
    sig = make_chest_signal(ChestSignalSpec(fs_hz=20.0, duration_s=600, heart_rate_bpm=61, breathing_rate_bpm=14,
                                            snr_db=10.0, seed=5))
    summaries: list[DailySummary] = []
    for t, x in zip(sig.t.tolist(), sig.x.tolist(), strict=True):
        out = home.process(ChestDisplacement(value=x, unit="mm", t=start + t, sensor="bed_radar"))
        summaries += [o for o in out if isinstance(o, DailySummary)]
        if int(t * 20) % 20 == 0:
            summaries += [o for o in home.tick(start + t) if isinstance(o, DailySummary)]
    assert summaries, "no morning summary came"
    resting = summaries[0].resting_heart_rate_bpm
    assert resting is not None and abs(resting - 61) <= 3
    assert home._vitals["bed_radar"].usual_heart_bpm == resting
