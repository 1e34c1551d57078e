"""How far the fall thresholds are from ordinary motion: the margin, stated in metres.

The fall detector's features (signal/falls.py: the height "now", the drop from the robust
height before, the speed of that drop) are computed over ordinary motion with no fall in
it, and three margins are reported:

* end height: how far the lowest "now" of any fast-enough drop stays above ``low_m``;
* drop: how far the largest fast drop (any end height) stays under the drop it needs
  (``min_drop_share`` of the height before it, at least ``min_drop_m``);
* sensor offset: how much lower every height may read (a radar mounted lower than its
  configured height, a floor offset) before ordinary motion raises a possible fall.

Ordinary motion: ../shared/data/radar_pointcloud/walk.npz (real IWR1443 point clouds of a
person walking, turned into a tracker-like centroid: the frame's points averaged, then
smoothed as a tracker would), and synthetic squats, fast sits, low stools, bending and
walking with a sparse-cloud centroid's noise. Used by bench/behaviour_accuracy.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eldergate.signal.falls import FallDetector, FallSettings
from eldergate.signal.tracks import Person, Scene

OFFSETS = np.round(np.arange(0.0, 0.81, 0.05), 2)


@dataclass(frozen=True)
class Margin:
    source: str
    samples: int
    end_height_m: float | None  # lowest "now" of a fast drop of min_drop or more, minus low_m
    drop_m: float | None  # min_drop minus the largest fast drop
    offset_m: float  # the largest downward offset with no possible fall
    false_at_zero: int  # possible falls with no offset (goal 0)


def walk_heights(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """(t, centroid height) of the real walk: per-frame mean of the points, then smoothed like
    a tracker's estimate (alpha 0.5), shifted so the walk stands at about 1 m."""
    if not path.exists():
        return None
    d = np.load(path)
    t, z = [], []
    for fr in np.unique(d["frame"]):
        m = d["frame"] == fr
        t.append(float(d["t"][m][0]))
        z.append(float(np.mean(d["z"][m])))
    zz = np.array(z)
    smooth = np.empty_like(zz)
    acc = zz[0]
    for i, v in enumerate(zz):
        acc = 0.5 * acc + 0.5 * v
        smooth[i] = acc
    return np.array(t), 1.0 + smooth - float(np.median(smooth))


def synthetic_heights(seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Squats, fast sits, a low stool, bending and walking, at 20 fps with ±15 cm centroid noise."""
    s = Scene(fs=20.0, seed=seed, noise_m=0.15, people=[Person(standing_z=1.0)])
    rng = np.random.default_rng(seed)
    for _ in range(40):
        act = rng.choice(["squat", "sit", "stool", "bend", "walk"])
        if act == "squat":
            s.drop(0.55, float(rng.uniform(0.5, 1.0))).hold(float(rng.uniform(1, 5))).drop(1.0, 0.8)
        elif act == "sit":
            s.sit_down_fast()
        elif act == "stool":
            s.sit_on_low_stool(float(rng.uniform(10, 40)))
        elif act == "bend":
            s.bend_down()
        s.walk_about(float(rng.uniform(5, 20)))
    t = np.array([f.t for f in s.frames if f.targets])
    z = np.array([f.targets[0].z or 0.0 for f in s.frames if f.targets])
    return t, z


def measure(source: str, t: np.ndarray, z: np.ndarray, settings: FallSettings | None = None) -> Margin:
    s = settings or FallSettings()
    det = FallDetector("r", "room", settings=s)
    lows, drops = [], []
    for ti, zi in zip(t.tolist(), z.tolist(), strict=True):
        det.height(ti, zi)
        if det.state != "up":  # a false possible fall: start over as if the person were up again
            det = FallDetector("r", "room", settings=s)
            continue
        f = det.features(ti)
        if f is None:
            continue
        now, drop, speed = f
        need = s.min_drop(now + drop)
        if speed >= s.min_speed(now + drop) and drop >= need:
            lows.append(now)
        if speed >= s.min_speed(now + drop):
            drops.append(drop - need)
    offset_ok = 0.0
    false_at_zero = _possible_falls(t, z, s)
    for off in OFFSETS:
        if _possible_falls(t, z - off, s):
            break
        offset_ok = float(off)
    return Margin(source, len(t), (min(lows) - s.low_m) if lows else None,
                  -max(drops) if drops else None, offset_ok, false_at_zero)


def _possible_falls(t: np.ndarray, z: np.ndarray, s: FallSettings) -> int:
    det = FallDetector("r", "room", settings=s)
    n = 0
    for ti, zi in zip(t.tolist(), z.tolist(), strict=True):
        for e in det.height(ti, zi):
            if e.name == "possible_fall":
                n += 1
                det = FallDetector("r", "room", settings=s)
    return n
