"""The resident's own resting heart rate from the last night is what the next night's heart
estimator checks octaves against (gateway/core/home.py, signal/heart.py)."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from eldergate.config.loader import load_config
from eldergate.drivers.readings import ChestDisplacement
from eldergate.gateway.core.home import Home
from eldergate.gateway.delivery.outbox import Outbox
from eldergate.gateway.runtime import USUAL_HEART_KEPT_S, Gateway
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
    assert home.bed_radars.vitals["bed_radar"].usual_heart_bpm == resting


def test_the_usual_heart_rate_survives_a_restart(tmp_path: Path) -> None:
    # The summary is kept in the outbox's local history; a gateway started on the same state
    # folder gives the next night's estimator the stored rate, not nothing.
    cfg = load_config(ROOT / "config" / "demo.toml")
    cfg = cfg.model_copy(update={"gateway": cfg.gateway.model_copy(update={"state_dir": tmp_path})})
    now = time.time()
    store = Outbox(tmp_path / "eldergate.db")
    resident = cfg.residents[0].id

    def summary(end: float, bpm: float | None) -> DailySummary:
        return DailySummary(resident, end - 86_400, end, 0, 0, 0, 0.0, 0.0, bpm, 14.0, 0.0, 0)

    for end, bpm in ((now - 30 * 86_400, 70.0), (now - 2 * 86_400, 58.0), (now - 86_400, None)):
        store.emit(summary(end, bpm))
    gw = Gateway(cfg, [], store=store, mqtt=False)
    try:
        gw.home.process(ChestDisplacement(value=0.0, unit="mm", t=now, sensor="bed_radar"))
        assert gw.home.bed_radars.vitals["bed_radar"].usual_heart_bpm == 58.0  # the latest night with a rate
    finally:
        store.close()
    # a week-old rate is no longer the resident's usual one
    old = Outbox(tmp_path / "old.db")
    try:
        assert old.resting_heart_rates(now) == {}
        old.emit(summary(now - 8 * 86_400, 66.0))
        assert old.resting_heart_rates(now - USUAL_HEART_KEPT_S) == {}
    finally:
        old.close()
