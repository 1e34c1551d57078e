"""Heart-rate accuracy on real radar recordings with an ECG reference (../shared/data).

    .venv/bin/python bench/vitals_accuracy.py [--data ../shared/data/radar_vitals_dev] [--json OUT]

For every 30 s reference window (60 / median RR of the ECG, every 15 s), the streaming
estimator's output at the window's end (it has seen only the past) is compared with the
reference. Beside it, two baselines: the naive periodogram the data README describes
(20 Hz resampling, first difference, 0.8–2.0 Hz band-pass, periodogram peak over 30 s) and
a constant guess of 75 bpm; and, for information, the session's own mean reference (an
oracle constant that no estimator can know). The empty room must never yield a heart rate.
The recordings are not part of this repository; without them this prints why and exits 0.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy import signal as sps

from eldergate.signal.vitals import VitalsEstimate, VitalsSettings, estimate_vitals

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "radar_vitals_dev"
CONSTANT_BPM = 75.0
WINDOW_S = 30.0
QUALITY_STEPS = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95)


def naive_periodogram(t: np.ndarray, x: np.ndarray, end: float) -> float:
    fs = 20.0
    grid = np.arange(end - WINDOW_S, end, 1 / fs)
    y = np.diff(np.interp(grid, t, x))
    sos = sps.butter(4, [0.8, 2.0], btype="band", fs=fs, output="sos")
    y = sps.sosfiltfilt(sos, y)
    f, p = sps.periodogram(y, fs=fs, nfft=4096)
    band = (f >= 0.8) & (f <= 2.0)
    return float(f[band][np.argmax(p[band])] * 60)


def score(est: list[float | None], ref: np.ndarray) -> dict[str, float]:
    covered = np.array([e is not None for e in est])
    if not covered.any():
        return {"mae": float("nan"), "within5": 0.0, "coverage": 0.0, "n": float(len(ref))}
    err = np.abs(np.array([e for e in est if e is not None]) - ref[covered])
    return {"mae": float(err.mean()), "within5": float((err <= 5).mean()), "coverage": float(covered.mean()),
            "n": float(len(ref))}


def at_window_end(estimates: list[VitalsEstimate], end: float) -> VitalsEstimate | None:
    """The estimate emitted at the window's end (the last one at or before it, within 1.5 s)."""
    ts = np.array([e.t for e in estimates])
    i = int(np.searchsorted(ts, end, side="right")) - 1
    if i < 0 or end - ts[i] > 1.5:
        return None
    return estimates[i]


def heart_if(e: VitalsEstimate | None, min_quality: float) -> float | None:
    """The heart rate the estimator gives at ``min_quality``: the threshold only gates the
    output (the tracker is the same), so one run at threshold 0 serves every threshold."""
    if e is None or e.heart_rate_bpm is None or e.heart_quality < min_quality:
        return None
    return e.heart_rate_bpm


def quality_curve(windows: list[tuple[VitalsEstimate | None, float]]) -> list[dict[str, float]]:
    """Pooled error against coverage as the heart-quality threshold rises."""
    curve = []
    for step in QUALITY_STEPS:
        pairs = [(hr, ref) for e, ref in windows if (hr := heart_if(e, step)) is not None]
        err = np.array([abs(hr - ref) for hr, ref in pairs])
        curve.append({"min_quality": step, "mae": float(err.mean()) if len(err) else float("nan"),
                      "within5": float((err <= 5).mean()) if len(err) else 0.0,
                      "coverage": len(err) / max(len(windows), 1)})
    return curve


def run_session(path: Path) -> tuple[dict[str, dict[str, float]], dict[str, float],
                                     list[tuple[VitalsEstimate | None, float]]]:
    """Scores, cost, and each reference window's estimate (for the quality curve)."""
    d = np.load(path)
    t = d["radar_t"].astype(np.float64)
    x = d["radar_phase_mm"].astype(np.float64)
    min_q = VitalsSettings().min_heart_quality
    c0 = time.process_time()
    estimates = estimate_vitals(t, x, VitalsSettings(min_heart_quality=0.0))
    cpu = time.process_time() - c0
    hours = (t[-1] - t[0]) / 3600
    cost = {"cpu_s_per_hour": cpu / hours, "updates": float(len(estimates))}
    if "ref_hr_bpm" not in d.files:
        with_hr = sum(1 for e in estimates if heart_if(e, min_q) is not None)
        return {"empty_room_heart_rates": {"count": float(with_hr), "of": float(len(estimates))}}, cost, []
    ends = d["ref_win_start"] + WINDOW_S
    ref = d["ref_hr_bpm"].astype(np.float64)
    at_ends = [at_window_end(estimates, e) for e in ends]
    naive = [naive_periodogram(t, x, e) for e in ends]
    return {
        "eldergate": score([heart_if(e, min_q) for e in at_ends], ref),
        "naive_periodogram": score(naive, ref),
        "constant_75": score([CONSTANT_BPM] * len(ref), ref),
        "oracle_session_mean": score([float(ref.mean())] * len(ref), ref),
    }, cost, list(zip(at_ends, ref.tolist(), strict=True))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    files = sorted(args.data.glob("*.npz")) if args.data.exists() else []
    if not files:
        print(f"vitals accuracy: no recordings at {args.data} (they are never committed); nothing measured")
        return 0
    results: dict[str, dict[str, dict[str, float]]] = {}
    costs = []
    windows: list[tuple[VitalsEstimate | None, float]] = []
    for f in files:
        results[f.stem], cost, session_windows = run_session(f)
        costs.append(cost["cpu_s_per_hour"])
        windows += session_windows
    methods = ["eldergate", "naive_periodogram", "constant_75", "oracle_session_mean"]
    print(f"{'session':<10}" + "".join(f"{m:>28}" for m in methods))
    print(f"{'':<10}" + "".join(f"{'MAE  ±5bpm  cover':>28}" for _ in methods))
    pooled: dict[str, list[tuple[float, float, float, float]]] = {m: [] for m in methods}
    for name, r in results.items():
        if "eldergate" not in r:
            e = r["empty_room_heart_rates"]
            print(f"{name:<10} empty room: {int(e['count'])} heart rate(s) in {int(e['of'])} updates (goal: 0)")
            continue
        row = f"{name:<10}"
        for m in methods:
            s = r[m]
            row += f"{s['mae']:>12.1f} {100 * s['within5']:>6.0f}% {100 * s['coverage']:>6.0f}%"
            pooled[m].append((s["mae"], s["within5"], s["coverage"], s["n"]))
        print(row)
    row = f"{'pooled':<10}"
    summary = {}
    for m in methods:
        arr = np.array(pooled[m])
        covered_n = arr[:, 2] * arr[:, 3]
        mae = float(np.nansum(arr[:, 0] * covered_n) / max(covered_n.sum(), 1))
        w5 = float(np.nansum(arr[:, 1] * covered_n) / max(covered_n.sum(), 1))
        cov = float(covered_n.sum() / arr[:, 3].sum())
        summary[m] = {"mae": mae, "within5": w5, "coverage": cov}
        row += f"{mae:>12.1f} {100 * w5:>6.0f}% {100 * cov:>6.0f}%"
    print(row)
    curve = quality_curve(windows)
    default_q = VitalsSettings().min_heart_quality
    print("heart quality threshold (posterior mass within ±4 bpm) against pooled error and coverage:")
    for c in curve:
        mark = "  <- default" if c["min_quality"] == default_q else ""
        print(f"  quality >= {c['min_quality']:.2f}: MAE {c['mae']:5.1f}  ±5bpm {100 * c['within5']:3.0f}%"
              f"  cover {100 * c['coverage']:3.0f}%{mark}")
    print(f"CPU: {np.mean(costs):.2f} s per hour of 50 Hz input (estimator, batch over each recording)")
    print("goal: pooled MAE < 3 bpm at coverage > 80 %; beat the constant guess on every session; empty room: 0")
    if args.json:
        args.json.write_text(json.dumps({"sessions": results, "pooled": summary, "quality_curve": curve,
                                         "cpu_s_per_hour_50hz": float(np.mean(costs))}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
