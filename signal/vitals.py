"""Heart and breathing rate from a chest-displacement waveform, streaming and causal.

Method (why, and what each choice was measured to do, in docs/vitals.md):

1. The sampling rate comes from the sample count over the buffer's span, not from each
   stamp: serial stamps jitter and repeat, but the count over 30 s pins the rate.
2. The input is block-averaged to an internal rate of 10–20 Hz (anti-alias and cost).
3. Breathing: spectrum of the last 30 s weighted by frequency (chest motion has a 1/f-like
   drift that otherwise wins at the band's low edge), peak in 5.4–42 per minute.
4. Heart: the last 30 s of clean signal, breathing fundamental and first harmonics
   subtracted (a least-squares fit of k·f_breath), first-differenced, and its spectrum
   taken relative to its local background; the evidence for a rate f is that relative
   power at f plus at 2f (the heartbeat is a pulse, so its second harmonic is strong where
   breathing's harmonics have faded). A forward-only HMM over 36–150 bpm (rates reported:
   42–144) accumulates that evidence second by second (signal/rate_tracker.py); its
   quality is the posterior mass within ±4 bpm of the peak, and below
   ``min_heart_quality`` no heart rate is given.
5. Gating: "absent" when the breathing-band amplitude is at the empty-room level, "moving"
   during and just after a burst of fast chest motion, "too_noisy" when the evidence is
   not concentrated enough, "warming_up" until enough clean signal exists.
"""

from __future__ import annotations

import enum
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from eldergate.signal.rate_tracker import RateTracker, TrackerSettings
from eldergate.signal.spectrum import band_std, power_spectrum, ramp01, refine_peak, relative_to_background

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
    heart_min_window_s: float = 20.0  # clean signal before the heart tracker takes evidence
    update_every_s: float = 1.0
    breath_band_hz: tuple[float, float] = (0.09, 0.7)  # 5.4–42 per minute
    # breathing-band std below this (input units) means nobody there; None: do not judge
    presence_threshold: float | None = 0.02
    motion_ratio: float = 4.0  # a 1-s block this much faster than the window's median
    settle_s: float = 3.0  # "moving" for this long after a burst ends
    min_heart_quality: float = 0.8  # posterior mass within ±4 bpm (see docs/vitals.md for the curve)
    min_breath_quality: float = 0.15
    gap_s: float = 2.0  # a gap longer than this restarts the estimator
    breath_harmonics: int = 3  # breathing harmonics subtracted before the heart search
    notch_hz: float = 0.03  # evidence at any breathing harmonic is capped at the background
    tracker: TrackerSettings = field(default_factory=TrackerSettings)

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
        self._heart = RateTracker(self.s.tracker)
        self._recent_br: deque[float] = deque(maxlen=3)

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
                self._heart.predict()  # time passes; no evidence while the chest is moving
                return self._none(NoEstimate.MOVING, present=present, moving=clean_s < self.s.settle_s)
            x = x[clean_from:]

        br_hz, br_q = _breathing_peak(x, fs, self.s.breath_band_hz)
        if len(x) / fs >= self.s.heart_min_window_s:
            hr, hr_q = self._heart.update(self._heart_evidence(x, fs, br_hz))
        else:  # a short window's coarse spectrum locks the tracker onto the wrong line
            self._heart.predict()
            hr, hr_q = self._heart.estimate()
        # Each rate is given or withheld on its own quality: irregular breathing does not make
        # the heart's accumulated evidence any less valid, nor the other way round.
        br: float | None = None
        if br_q >= self.s.min_breath_quality:
            self._recent_br.append(br_hz * 60.0)
            br = float(np.median(self._recent_br))
        heart: float | None = hr if hr_q >= self.s.min_heart_quality else None
        reason = None if heart is not None and br is not None else NoEstimate.TOO_NOISY
        return VitalsEstimate(self._t[-1], heart, br, hr_q if heart else 0.0, br_q if br else 0.0, reason,
                              present, False)

    def _heart_evidence(self, x: Array, fs: float, br_hz: float) -> Array:
        grid_hz = self._heart.grid / 60.0
        hi = min(2 * grid_hz[-1], 0.49 * fs)
        # Subtract the breathing fundamental and its first harmonics only: on the recordings the
        # higher ones are smeared by irregular breathing, and fitting them also removes the heart
        # whenever it sits near k·f_breath (S04: 75 bpm = 5 × 15/min).
        kmax = self.s.breath_harmonics
        x = _remove_harmonics(x - x.mean(), fs, br_hz, 0.0, (kmax + 0.5) * br_hz)
        # The first difference whitens the 1/f-like spectrum of chest motion.
        freqs, power = power_spectrum(np.diff(x), fs)
        rel = relative_to_background(freqs, power, 0.3, hi + 0.1)
        # What is left at any breathing harmonic is not evidence for the heart.
        if br_hz > 0:  # harmonics 1–8; beyond the 8th, breathing has faded into the noise
            offset = np.mod(freqs + 0.5 * br_hz, br_hz) - 0.5 * br_hz
            near_harmonic = (np.abs(offset) < self.s.notch_hz) & (freqs < 8.5 * br_hz)
            rel[near_harmonic] = np.minimum(rel[near_harmonic], 1.0)
        fundamental = np.interp(grid_hz, freqs, rel)
        second = np.interp(2 * grid_hz, freqs, rel, right=1.0)  # above Nyquist: no evidence either way
        return np.asarray(fundamental + second, dtype=np.float64)


def _remove_harmonics(x: Array, fs: float, f0: float, f_lo: float, f_hi: float) -> Array:
    """Subtract the least-squares fit of sinusoids at the k·f0 that fall in [f_lo, f_hi].

    Breathing is periodic but not sinusoidal, so its harmonics fall in the heart band and
    are often stronger than the heart itself. Subtracting narrow lines keeps the heart's
    energy between them, where a band notch as wide as the window's main lobe would not.
    """
    n = len(x)
    if f0 <= 0 or n < 8:
        return x
    k_lo = max(1, int(np.ceil(f_lo / f0)))
    k_hi = int(min(f_hi, 0.45 * fs) / f0)
    if k_hi < k_lo:
        return x
    t = np.arange(n, dtype=np.float64) / fs
    phase = (2 * np.pi * f0) * np.outer(t, np.arange(k_lo, k_hi + 1))
    basis = np.hstack([np.cos(phase), np.sin(phase)])
    gram = basis.T @ basis
    gram.flat[:: gram.shape[0] + 1] += 1e-6 * n  # ridge: keeps near-collinear columns tame
    coef = np.linalg.solve(gram, basis.T @ x)
    return np.asarray(x - basis @ coef, dtype=np.float64)


def _decimate(x: Array, fs: float) -> tuple[Array, float]:
    """Block-average to at most ~20 Hz (a boxcar anti-alias filter)."""
    q = max(1, int(fs // 12.5))
    if q > 1:
        n = (len(x) // q) * q
        x = np.asarray(x[len(x) - n :].reshape(-1, q).mean(axis=1), dtype=np.float64)
        fs = fs / q
    return x, fs


def _breathing_peak(x: Array, fs: float, band_hz: tuple[float, float]) -> tuple[float, float]:
    freqs, power = power_spectrum(x, fs)
    band = (freqs >= band_hz[0]) & (freqs <= band_hz[1])
    # Weighting by frequency (the spectrum of a half-derivative) cancels part of the slow
    # postural drift's 1/f² rise, which otherwise puts the peak at the band's low edge
    # (measured on the recordings: 5/min picked in a third of S03's windows, 6 % with it).
    weighted = power * freqs
    k = int(np.argmax(np.where(band, weighted, 0.0)))
    f = refine_peak(freqs, power, k)
    near = band & (np.abs(freqs - freqs[k]) <= 0.04)
    q = float(weighted[near].sum() / max(weighted[band].sum(), 1e-30))
    return f, ramp01(q, 0.2, 0.7)


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
