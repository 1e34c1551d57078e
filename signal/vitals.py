"""Heart and breathing rate from a chest-displacement waveform, streaming and causal.

Method (why, in docs/vitals.md):

1. Sample times are taken from the sample count over the buffer's span, not from each
   stamp: serial stamps jitter and repeat (host timers of 15.6 ms, several frames per
   read), but the count over 20 s pins the rate to a fraction of a per cent.
2. The input is block-averaged to an internal rate of 10–20 Hz (anti-alias and cost).
3. Breathing: detrended, Hann-windowed spectrum of the last 30 s, peak in 0.08–0.7 Hz
   with parabolic refinement; quality = share of band power near the peak.
4. Heart: the last 20 s with the breathing fundamental and its first harmonics subtracted
   (a least-squares fit of k·f_breath), whitened by a first difference, its spectrum
   searched in 42–144 bpm with a soft prior around the previous estimate (tracking).
5. Gating: "absent" when the breathing-band amplitude is at the empty-room level,
   "moving" when a motion burst is in the window, "too_noisy" when the spectral
   concentration is too low, "warming_up" until enough clean signal exists.
"""

from __future__ import annotations

import enum
import functools
import math
from collections import deque
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


class NoEstimate(enum.StrEnum):
    WARMING_UP = "warming_up"
    ABSENT = "absent"
    MOVING = "moving"
    TOO_NOISY = "too_noisy"


@dataclass(frozen=True, slots=True)
class VitalsSettings:
    heart_window_s: float = 20.0
    breath_window_s: float = 30.0
    min_window_s: float = 12.0
    update_every_s: float = 1.0
    heart_band_hz: tuple[float, float] = (0.7, 2.4)  # 42–144 bpm
    breath_band_hz: tuple[float, float] = (0.08, 0.7)  # 5–42 per minute
    # breathing-band std below this (input units) means nobody there; None: do not judge
    presence_threshold: float | None = 0.02
    motion_ratio: float = 4.0  # a 1-s block this much above the window's median velocity
    min_heart_quality: float = 0.12
    min_breath_quality: float = 0.15
    track_sigma_bpm: float = 12.0
    gap_s: float = 2.0  # a gap longer than this restarts the estimator
    breath_harmonics: int = 3  # breathing harmonics subtracted before the heart search

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
        self._cap = int(max_rate_hz * self.s.breath_window_s) + 16
        self._t: deque[float] = deque(maxlen=self._cap)
        self._x: deque[float] = deque(maxlen=self._cap)
        self._next_update: float | None = None
        self._last_hr: float | None = None
        self._last_hr_t = -math.inf
        self._recent_hr: deque[float] = deque(maxlen=3)
        self._recent_br: deque[float] = deque(maxlen=3)

    def reset(self) -> None:
        self._t.clear()
        self._x.clear()
        self._next_update = None
        self._recent_hr.clear()
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
        x_in = np.fromiter(self._x, dtype=np.float64, count=len(self._x))
        x, fs = _decimate(x_in, fs_in)
        n_breath = min(len(x), int(self.s.breath_window_s * fs))
        x = x[-n_breath:]

        present = None
        if self.s.presence_threshold is not None:
            present = _band_std(x, fs, self.s.breath_band_hz) >= self.s.presence_threshold
            if not present:
                self._recent_hr.clear()
                return self._none(NoEstimate.ABSENT, present=False)

        clean_from = _last_motion_end(x, fs, self.s.motion_ratio)
        if clean_from is not None and (len(x) - clean_from) / fs < self.s.min_window_s:
            moving_now = (len(x) - clean_from) / fs < 3.0
            return self._none(NoEstimate.MOVING, present=present, moving=moving_now)
        if clean_from is not None:
            x = x[clean_from:]

        br_hz, br_q = _breathing_peak(x, fs, self.s.breath_band_hz)
        hr_hz, hr_q = self._heart_peak(x[-int(self.s.heart_window_s * fs) :], fs, br_hz)
        if br_q < self.s.min_breath_quality:
            return VitalsEstimate(self._t[-1], None, None, 0.0, br_q, NoEstimate.TOO_NOISY, present, False)
        self._recent_br.append(br_hz * 60.0)
        br = float(np.median(self._recent_br))
        hr: float | None = None
        if hr_q >= self.s.min_heart_quality:
            self._recent_hr.append(hr_hz * 60.0)
            hr = float(np.median(self._recent_hr))
            self._last_hr, self._last_hr_t = hr, self._t[-1]
        reason = None if hr is not None else NoEstimate.TOO_NOISY
        return VitalsEstimate(self._t[-1], hr, br, hr_q if hr else 0.0, br_q, reason, present, False)

    def _heart_peak(self, x: Array, fs: float, br_hz: float) -> tuple[float, float]:
        lo, hi = self.s.heart_band_hz
        # Subtract the breathing fundamental and its first harmonics only: on the recordings the
        # higher ones are smeared by irregular breathing, and fitting them also removes the heart
        # whenever it sits near k·f_breath (S04: 75 bpm = 5 × 15/min).
        kmax = self.s.breath_harmonics
        x = _remove_harmonics(x - x.mean(), fs, br_hz, 0.0, min(hi + 0.15, (kmax + 0.5) * br_hz))
        # The first difference whitens the 1/f-like spectrum of chest motion, which otherwise
        # always puts the peak at the low edge of the band (measured: MAE 29 -> 11 bpm).
        freqs, power = _spectrum(np.diff(x), fs)
        band = (freqs >= lo) & (freqs <= hi)
        for k in range(2, kmax + 1):  # what the fit leaves of those harmonics (rate drift) is damped
            power[np.abs(freqs - k * br_hz) < 0.025] *= 0.3
        df = freqs[1] - freqs[0]
        score = power.copy()  # no harmonic sum: it favours the subharmonic (measured on S01: 45 for 90)
        if self._last_hr is not None and self._t[-1] - self._last_hr_t < 15.0:
            sigma = self.s.track_sigma_bpm / 60.0
            prior = np.exp(-0.5 * ((freqs - self._last_hr / 60.0) / sigma) ** 2)
            score = score * (0.35 + prior)
        score = np.where(band, score, 0.0)
        k = int(np.argmax(score))
        f = _refine(freqs, power, k, df)
        near = band & (np.abs(freqs - freqs[k]) <= 0.06)
        q = float(power[near].sum() / max(power[band].sum(), 1e-30))
        return f, _quality(q, 0.08, 0.45)


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
    """Block-average to at most ~20 Hz (a boxcar anti-alias filter) and remove the trend."""
    q = max(1, int(fs // 12.5))
    if q > 1:
        n = (len(x) // q) * q
        x = np.asarray(x[len(x) - n :].reshape(-1, q).mean(axis=1), dtype=np.float64)
        fs = fs / q
    return x, fs


@functools.lru_cache(maxsize=16)
def _window(n: int) -> tuple[Array, Array]:
    """Hann window and a centred ramp for the linear detrend, cached per length."""
    ramp = np.arange(n, dtype=np.float64) - (n - 1) / 2.0
    return np.hanning(n), ramp / max(float(ramp @ ramp), 1e-12) ** 0.5


def _spectrum(x: Array, fs: float, nfft: int = 4096) -> tuple[Array, Array]:
    n = len(x)
    hann, unit_ramp = _window(n)
    x = x - x.mean()
    x = x - (x @ unit_ramp) * unit_ramp  # least-squares linear detrend
    size = max(nfft, n)
    spec = np.fft.rfft(x * hann, n=size)
    power = spec.real**2 + spec.imag**2
    return _freqs(size, fs), power


@functools.lru_cache(maxsize=32)
def _freqs(size: int, fs: float) -> Array:
    return np.asarray(np.fft.rfftfreq(size, 1.0 / fs), dtype=np.float64)


def _refine(freqs: Array, power: Array, k: int, df: float) -> float:
    if 0 < k < len(power) - 1:
        a, b, c = power[k - 1], power[k], power[k + 1]
        denom = a - 2 * b + c
        if denom < 0:
            return float(freqs[k] + np.clip(0.5 * (a - c) / denom, -0.5, 0.5) * df)
    return float(freqs[k])


def _quality(concentration: float, floor: float, full: float) -> float:
    return float(min(1.0, max(0.0, (concentration - floor) / (full - floor))))


def _breathing_peak(x: Array, fs: float, band_hz: tuple[float, float]) -> tuple[float, float]:
    freqs, power = _spectrum(x, fs)
    band = (freqs >= band_hz[0]) & (freqs <= band_hz[1])
    k = int(np.argmax(np.where(band, power, 0.0)))
    f = _refine(freqs, power, k, freqs[1] - freqs[0])
    near = band & (np.abs(freqs - freqs[k]) <= 0.04)
    q = float(power[near].sum() / max(power[band].sum(), 1e-30))
    return f, _quality(q, 0.2, 0.7)


def _band_std(x: Array, fs: float, band_hz: tuple[float, float]) -> float:
    spec = np.fft.rfft(x - x.mean())
    freqs = np.fft.rfftfreq(len(x), 1.0 / fs)
    spec[(freqs < band_hz[0]) | (freqs > band_hz[1])] = 0.0
    return float(np.std(np.fft.irfft(spec, n=len(x))))


def _last_motion_end(x: Array, fs: float, ratio: float) -> int | None:
    """Index just after the last 1-s block whose velocity spread marks a motion burst."""
    block = max(2, round(fs))
    v = np.abs(np.diff(x))
    n_blocks = len(v) // block
    if n_blocks < 4:
        return None
    blocks = v[len(v) - n_blocks * block :].reshape(n_blocks, block).max(axis=1)
    ref = float(np.median(blocks))
    if ref <= 0:
        return None
    hot = np.nonzero(blocks > ratio * ref)[0]
    if len(hot) == 0:
        return None
    last_hot = int(hot[-1])
    return len(x) - (n_blocks - last_hot - 1) * block


def estimate_vitals(t: Array, x: Array, settings: VitalsSettings | None = None) -> list[VitalsEstimate]:
    """Batch form: run the streaming estimator over a whole recording."""
    return VitalsEstimator(settings).feed(np.asarray(t, dtype=np.float64), np.asarray(x, dtype=np.float64))
