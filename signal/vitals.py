"""Heart and breathing rate from a chest-displacement waveform, streaming and causal.

Method (why, and what each choice was measured to do, in docs/vitals.md):

1. The sampling rate comes from the sample count over the buffer's span, not from each
   stamp: serial stamps jitter and repeat, but the count over 30 s pins the rate.
2. The input is block-averaged to an internal rate of 10–20 Hz (anti-alias and cost).
3. Breathing (signal/breathing.py): spectrum of the last 30 s weighted by frequency, peak
   in 5.4–42 per minute, moved down an octave when a line at half the rate shows that the
   peak is the breath's second harmonic.
4. Heart (signal/heart.py): spectral evidence for f and 2f accumulated by a tracker, then
   weighed against the octave readings of the same lines; a rate is given only when no
   competing reading is left and its calibrated quality reaches ``min_heart_quality``.
5. Gating: "absent" when the breathing-band amplitude is at the empty-room level, "moving"
   during and just after a burst of fast chest motion, "too_noisy" when the evidence is
   not concentrated enough or its reading is in doubt, "warming_up" until enough clean
   signal exists.
"""

from __future__ import annotations

import enum
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from eldergate.signal.breathing import breathing_peak
from eldergate.signal.heart import HeartDoubt, HeartEstimator, HeartReading, HeartSettings
from eldergate.signal.spectrum import band_std

Array = NDArray[np.float64]


class NoEstimate(enum.StrEnum):
    WARMING_UP = "warming_up"
    ABSENT = "absent"
    MOVING = "moving"
    TOO_NOISY = "too_noisy"


@dataclass(frozen=True, slots=True)
class VitalsSettings:
    window_s: float = 30.0
    min_window_s: float = 12.0
    heart_min_window_s: float = 15.0  # clean signal before the heart tracker takes evidence
    update_every_s: float = 1.0
    breath_band_hz: tuple[float, float] = (0.09, 0.7)  # 5.4–42 per minute
    # breathing-band std below this (input units) means nobody there; None: do not judge
    presence_threshold: float | None = 0.02
    motion_ratio: float = 4.0  # a 1-s block this much faster than the window's median
    settle_s: float = 3.0  # "moving" for this long after a burst ends
    min_heart_quality: float = 0.5  # calibrated: expected share within ±5 bpm (docs/vitals.md)
    min_breath_quality: float = 0.15
    gap_s: float = 2.0  # a gap longer than this restarts the estimator
    heart: HeartSettings = field(default_factory=HeartSettings)

    @classmethod
    def for_unit(cls, unit: str) -> VitalsSettings:
        # 1 mm of chest motion is about 2.5 rad of phase at 60 GHz (4π/λ, λ ≈ 5 mm)
        return cls(presence_threshold={"mm": 0.02, "rad": 0.05}.get(unit))


@dataclass(frozen=True, slots=True)
class VitalsEstimate:
    t: float  # end of the data used, same clock as the input
    heart_rate_bpm: float | None
    breathing_rate_bpm: float | None
    heart_quality: float
    breathing_quality: float
    reason: NoEstimate | None
    present: bool | None
    moving: bool
    heart_doubt: HeartDoubt | None = None  # why a tracked heart rate was not given

    @property
    def quality(self) -> float:
        return min(self.heart_quality, self.breathing_quality) if self.heart_rate_bpm else self.breathing_quality


class VitalsEstimator:
    """Feed samples in time order; every ``update_every_s`` of data it returns an estimate."""

    def __init__(self, settings: VitalsSettings | None = None, max_rate_hz: float = 110.0) -> None:
        self.s = settings or VitalsSettings()
        self._cap = int(max_rate_hz * self.s.window_s) + 16
        self._t: deque[float] = deque(maxlen=self._cap)
        self._x: deque[float] = deque(maxlen=self._cap)
        self._next_update: float | None = None
        self._heart = HeartEstimator(self.s.heart)
        self._recent_br: deque[float] = deque(maxlen=3)

    @property
    def usual_heart_bpm(self) -> float | None:
        """The resident's own resting heart rate from earlier nights, if known (signal/heart.py)."""
        return self._heart.usual_bpm

    @usual_heart_bpm.setter
    def usual_heart_bpm(self, bpm: float | None) -> None:
        self._heart.usual_bpm = bpm

    def reset(self) -> None:
        self._t.clear()
        self._x.clear()
        self._next_update = None
        self._heart.reset()
        self._recent_br.clear()

    def push(self, t: float, x: float) -> VitalsEstimate | None:
        if self._t and (t - self._t[-1] > self.s.gap_s or t < self._t[-1] - 1.0):
            self.reset()
        if not math.isfinite(x):
            return None
        self._t.append(t)
        self._x.append(x)
        if self._next_update is None:
            self._next_update = t + self.s.update_every_s
            return None
        if t < self._next_update:
            return None
        self._next_update += self.s.update_every_s
        if self._next_update < t:  # after a stall, do not emit a burst of estimates
            self._next_update = t + self.s.update_every_s
        return self._estimate()

    def feed(self, t: Array, x: Array) -> list[VitalsEstimate]:
        out = []
        for ti, xi in zip(t.tolist(), x.tolist(), strict=True):
            est = self.push(ti, xi)
            if est is not None:
                out.append(est)
        return out

    # -- the estimate ----------------------------------------------------------------------

    def _none(self, reason: NoEstimate, present: bool | None = None, moving: bool = False) -> VitalsEstimate:
        return VitalsEstimate(self._t[-1], None, None, 0.0, 0.0, reason, present, moving)

    def _estimate(self) -> VitalsEstimate:
        span = self._t[-1] - self._t[0]
        if span < self.s.min_window_s:
            return self._none(NoEstimate.WARMING_UP)
        fs_in = (len(self._t) - 1) / span
        x, fs = _decimate(np.fromiter(self._x, dtype=np.float64, count=len(self._x)), fs_in)
        x = x[-int(self.s.window_s * fs) :]  # the buffer is sized for the fastest input rate

        present = None
        if self.s.presence_threshold is not None:
            present = band_std(x, fs, self.s.breath_band_hz) >= self.s.presence_threshold
            if not present:
                self._heart.reset()
                self._recent_br.clear()
                return self._none(NoEstimate.ABSENT, present=False)

        clean_from = _last_motion_end(x, fs, self.s.motion_ratio)
        if clean_from is not None:
            clean_s = (len(x) - clean_from) / fs
            if clean_s < self.s.min_window_s:
                self._heart.idle()  # time passes; no evidence while the chest is moving
                return self._none(NoEstimate.MOVING, present=present, moving=clean_s < self.s.settle_s)
            x = x[clean_from:]

        br_hz, br_q = breathing_peak(x, fs, self.s.breath_band_hz)
        # Each rate is given or withheld on its own quality: irregular breathing does not make
        # the heart's accumulated evidence any less valid, nor the other way round.
        br: float | None = None
        if br_q >= self.s.min_breath_quality:
            self._recent_br.append(br_hz * 60.0)
            br = float(np.median(self._recent_br))
        reading: HeartReading
        if len(x) / fs >= self.s.heart_min_window_s:
            reading = self._heart.update(x, fs, br_hz, br)
        else:  # a short window's coarse spectrum locks the tracker onto the wrong line
            reading = self._heart.idle()
        given = reading.doubt is None and reading.quality >= self.s.min_heart_quality
        heart = reading.rate_bpm if given else None
        reason = None if heart is not None and br is not None else NoEstimate.TOO_NOISY
        return VitalsEstimate(self._t[-1], heart, br, reading.quality if given else 0.0, br_q if br else 0.0,
                              reason, present, False, reading.doubt)


def _decimate(x: Array, fs: float) -> tuple[Array, float]:
    """Block-average to at most ~20 Hz (a boxcar anti-alias filter)."""
    q = max(1, int(fs // 12.5))
    if q > 1:
        n = (len(x) // q) * q
        x = np.asarray(x[len(x) - n :].reshape(-1, q).mean(axis=1), dtype=np.float64)
        fs = fs / q
    return x, fs


def _last_motion_end(x: Array, fs: float, ratio: float) -> int | None:
    """Index just after the last 1-s block whose velocity marks a motion burst.

    A block is judged by its third-fastest sample, not its fastest: the obstructed recording
    has single-sample phase steps (the unwrapping slipping) that would otherwise read as
    bursts while the chest moved by nothing; a real movement is fast for many samples.
    """
    block = max(4, round(fs))
    v = np.abs(np.diff(x))
    n_blocks = len(v) // block
    if n_blocks < 4:
        return None
    blocks = np.partition(v[len(v) - n_blocks * block :].reshape(n_blocks, block), block - 3, axis=1)[:, block - 3]
    ref = float(np.median(blocks))
    if ref <= 0:
        return None
    hot = np.nonzero(blocks > ratio * ref)[0]
    if len(hot) == 0:
        return None
    return len(x) - (n_blocks - int(hot[-1]) - 1) * block


def estimate_vitals(t: Array, x: Array, settings: VitalsSettings | None = None) -> list[VitalsEstimate]:
    """Batch form: run the streaming estimator over a whole recording."""
    return VitalsEstimator(settings).feed(np.asarray(t, dtype=np.float64), np.asarray(x, dtype=np.float64))
