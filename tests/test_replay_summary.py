"""`eldergate replay` of a night prints the morning summary with the right counts."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

from eldergate.drivers.readings import Presence, TargetHeight
from eldergate.signal.tracks import Scene

from capture_builder import CaptureBuilder
from testutil import ROOT, clean_env, eldergate_cmd

T0 = dt.datetime(2026, 11, 21, 22, 40, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()


def test_replay_of_a_night_prints_the_summary_with_the_right_counts(tmp_path: Path) -> None:
    s = Scene(fs=2.0, t0=T0, seed=5).walk_about(120).go_to_bed(2 * 3600)  # to bed about 22:42
    s.turn_over().hold(3600)
    s.get_up().walk_about(8 * 60).go_to_bed(2 * 3600)  # a trip at about 01:45, eight minutes
    s.get_up().walk_about(5 * 60).go_to_bed(2 * 3600 + 2700)  # another at about 03:50
    s.get_up().walk_about(60 * 60)  # up for the day at about 06:40, until past 07:30
    cap = CaptureBuilder(T0)
    for f in s.frames:
        z = f.targets[0].z if f.targets else None
        readings = [f] + ([TargetHeight(height_m=z)] if z is not None else []) + [Presence(present=bool(f.targets))]
        cap.serial(f.t - T0, "room_radar", *readings)
    capture = cap.write(tmp_path / "night.jsonl")
    text = re.sub(r'\[\[sensors\]\]\nid = "bed_radar".*?(?=\[\[sensors\]\])', "",
                  (ROOT / "config" / "demo.toml").read_text(), flags=re.S)
    cfg = tmp_path / "home.toml"
    cfg.write_text(text)
    res = subprocess.run(eldergate_cmd("replay", "--config", str(cfg), str(capture), "--json"), capture_output=True,
                         text=True, env=clean_env(), timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    summaries = [json.loads(x) for x in res.stdout.splitlines() if '"record":"summary"' in x]
    morning = summaries[0]  # produced at 07:30 (the end of the night, 06:30, plus an hour)
    assert dt.datetime.fromtimestamp(morning["period_end"], ZoneInfo("Asia/Shanghai")).strftime("%H:%M") == "07:30"
    truth_exits = [t for t, n in s.truth if n == "bed_exit"]
    assert morning["bed_exits"] == len(truth_exits) == 3
    assert morning["night_bed_exits"] == 2  # the 06:30 rise is after the night's end
    assert morning["turnovers"] >= 1
    assert 6.5 * 60 <= morning["sleep_min"] <= 8 * 60
    assert morning["falls"] == 0
    assert [e["name"] for e in morning["events"]].count("bed_exit") == 3
