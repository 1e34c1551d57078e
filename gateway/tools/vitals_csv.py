"""``eldergate vitals FILE.csv``: heart and breathing rate from a CSV of chest displacement (columns
t in seconds and displacement_mm), one JSON line per estimate: the estimator of the bed radar,
on data from anywhere."""

from __future__ import annotations

import argparse
import csv
import json
import sys

EXIT_OK, EXIT_CONFIG = 0, 2


def cmd_vitals(args: argparse.Namespace) -> int:
    import numpy as np

    from eldergate.signal.vitals import VitalsEstimator

    try:
        with args.input.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        t = np.array([float(r["t"]) for r in rows])
        x = np.array([float(r["displacement_mm"]) for r in rows])
    except (OSError, KeyError, ValueError) as err:
        print(f"eldergate vitals: cannot read {args.input}: {err} "
              "(need a CSV with columns t and displacement_mm)", file=sys.stderr)
        return EXIT_CONFIG
    usual = args.usual_heart_rate
    if usual is not None and not 30.0 <= usual <= 200.0:
        print(f"eldergate vitals: --usual-heart-rate {usual} is not a resting heart rate (30–200)", file=sys.stderr)
        return EXIT_CONFIG
    order = np.argsort(t, kind="stable")
    estimator = VitalsEstimator()
    estimator.usual_heart_bpm = usual
    for e in estimator.feed(t[order], x[order]):
        print(json.dumps({
            "t": round(e.t, 3),
            "heart_rate_bpm": None if e.heart_rate_bpm is None else round(e.heart_rate_bpm, 1),
            "breathing_rate_bpm": None if e.breathing_rate_bpm is None else round(e.breathing_rate_bpm, 1),
            "quality": round(e.quality, 3),
            "heart_quality": round(e.heart_quality, 3),  # calibrated: expected share within ±5 bpm
            "breathing_quality": round(e.breathing_quality, 3),
            "reason": None if e.reason is None else str(e.reason),
            "heart_doubt": None if e.heart_doubt is None else str(e.heart_doubt),
        }))
    return EXIT_OK
