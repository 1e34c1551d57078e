"""Synthetic chest-displacement signals with known truth, for tests, benches and the demo.

Breathing is a skewed periodic wave (so it has harmonics, as real breathing does), the
heartbeat a train of short pulses whose interval varies (heart-rate variability), noise is
white at a chosen SNR relative to the heart component, motion bursts are large smooth
excursions, and absence is noise at the empty-room level.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ChestSignalSpec:
    fs_hz: float = 20.0
    duration_s: float = 120.0
    heart_rate_bpm: float = 70.0
    breathing_rate_bpm: float = 15.0
    breath_amplitude_mm: float = 1.5  # peak-to-peak about 3 mm (data README: 0.6–3.7)
    heart_amplitude_mm: float = 0.08
    hrv_sd: float = 0.03  # relative sd of beat intervals
    # Relative amplitudes of the heart's fundamental, 2nd, 3rd... harmonic; empty: a pulse train.
    # (0, 1) is a heart whose fundamental does not reach the radar (S04 in shared/data).
    heart_harmonics: tuple[float, ...] = ()
    breath_harmonics: tuple[float, ...] = (0.25, 0.08)  # breathing's 2nd, 3rd... harmonic
    breath_irregularity: float = 0.0  # relative sd of the breathing rate, wandering over ~20 s
    snr_db: float = 10.0  # heart component power over noise power
    jitter_s: float = 0.0  # timestamp jitter (sd); stamps are also quantised to it
    motion_bursts: tuple[tuple[float, float], ...] = ()  # (start_s, duration_s)
    absent: tuple[tuple[float, float], ...] = ()
    seed: int = 0
    extra: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ChestSignal:
    t: Array
    x: Array
    heart_rate_bpm: Array  # instantaneous truth at each sample
    breathing_rate_bpm: float


def make_chest_signal(spec: ChestSignalSpec) -> ChestSignal:
    rng = np.random.default_rng(spec.seed)
    n = int(spec.duration_s * spec.fs_hz)
    t = np.arange(n) / spec.fs_hz
    breath_phase = 2 * np.pi * spec.breathing_rate_bpm / 60.0 * t + rng.uniform(0, 2 * np.pi)
    if spec.breath_irregularity > 0:  # its own generator: regular signals stay as they were
        breath_phase += _wander(n, spec.fs_hz, spec.breathing_rate_bpm / 60.0 * spec.breath_irregularity,
                                np.random.default_rng(spec.seed + 1_000_003))
    # skewed wave: fast inhalation, slow exhalation -> harmonics 2f, 3f...
    breath = np.sin(breath_phase)
    for k, a in enumerate(spec.breath_harmonics, start=2):
        breath += a * np.sin(k * breath_phase + 0.6 + 0.5 * (k - 2))
    breath *= spec.breath_amplitude_mm
    heart, hr_true = _heartbeat(t, spec, rng)
    heart_power = float(np.mean(heart**2))
    noise_sd = np.sqrt(heart_power / (10 ** (spec.snr_db / 10)))
    x = breath + heart + rng.normal(0, noise_sd, n)
    for start, dur in spec.motion_bursts:
        m = (t >= start) & (t < start + dur)
        k = int(m.sum())
        if k:
            walk = np.cumsum(rng.normal(0, 1.0, k))
            x[m] += 8.0 * walk / max(1.0, float(np.abs(walk).max())) + 6.0 * np.sin(np.linspace(0, np.pi, k))
    for start, dur in spec.absent:
        m = (t >= start) & (t < start + dur)
        x[m] = rng.normal(0, 0.002, int(m.sum()))
    ts = t.copy()
    if spec.jitter_s > 0:
        ts = t + rng.normal(0, spec.jitter_s, n)
        ts = np.maximum.accumulate(np.round(ts / spec.jitter_s) * spec.jitter_s)
    return ChestSignal(ts, x, hr_true, spec.breathing_rate_bpm)


def _wander(n: int, fs: float, sd_hz: float, rng: np.random.Generator) -> Array:
    """Phase (rad) of a rate that wanders with sd ``sd_hz`` around zero over about 20 s."""
    width = max(1, int(20 * fs))
    drift = np.convolve(rng.normal(0, 1, n + width), np.ones(width), mode="valid")[:n]
    drift *= sd_hz / max(float(np.std(drift)), 1e-12)
    return np.asarray(2 * np.pi * np.cumsum(drift) / fs, dtype=np.float64)


def _heartbeat(t: Array, spec: ChestSignalSpec, rng: np.random.Generator) -> tuple[Array, Array]:
    mean_ibi = 60.0 / spec.heart_rate_bpm
    beats = [rng.uniform(0, mean_ibi)]
    while beats[-1] < t[-1] + 1:
        beats.append(beats[-1] + mean_ibi * (1 + spec.hrv_sd * rng.standard_normal()))
    beat_t = np.asarray(beats)
    heart = np.zeros_like(t)
    # a smooth pulse: on the recordings the whitened heart fundamental dominates its 2nd harmonic
    width = 0.16 * mean_ibi
    for b in beat_t:
        lo, hi = np.searchsorted(t, [b - 4 * width, b + 6 * width])
        seg = t[lo:hi] - b
        # a sharp rise and a damped rebound, like a ballistocardiogram
        heart[lo:hi] += np.exp(-0.5 * (seg / width) ** 2) - 0.3 * np.exp(-0.5 * ((seg - 2.5 * width) / width) ** 2)
    heart *= spec.heart_amplitude_mm
    ibi = np.diff(beat_t)
    hr_true = np.interp(t, beat_t[1:], 60.0 / ibi)
    if spec.heart_harmonics:  # the same beats as a sum of harmonics of their phase
        phase = 2 * np.pi * np.interp(t, beat_t, np.arange(len(beat_t), dtype=np.float64))
        heart = np.zeros_like(t)
        for k, a in enumerate(spec.heart_harmonics):
            heart += a * np.sin((k + 1) * phase + 0.7 * k)
        heart *= spec.heart_amplitude_mm
    return heart, hr_true


class ChestStream:
    """The same chest model, one sample at a time, with rates that may change on the fly.

    Used by the demo's bed-radar emulator: the scenario sets the rates and motion, and
    the emulator asks for the displacement at each frame time.
    """

    def __init__(self, seed: int = 0, breath_amplitude_mm: float = 1.5, heart_amplitude_mm: float = 0.08,
                 noise_mm: float = 0.02) -> None:
        self.rng = np.random.default_rng(seed)
        self.breath_amplitude_mm = breath_amplitude_mm
        self.heart_amplitude_mm = heart_amplitude_mm
        self.noise_mm = noise_mm
        self._phase = 0.0
        self._heart_phase = 0.0
        self._hrv = 0.0
        self._t: float | None = None
        self._drift = 0.0

    def sample(self, t: float, heart_rate_bpm: float, breathing_rate_bpm: float, moving: bool = False) -> float:
        if self._t is None or t - self._t > 5.0:
            self._t = t
        dt = max(0.0, t - self._t)
        self._t = t
        self._phase += 2 * np.pi * breathing_rate_bpm / 60.0 * dt
        # the heart as a smooth periodic wave of an integrated phase: no jump at each beat (a pulse
        # cut off by the next one would be all harmonics), slow rate variability of a few per cent
        self._hrv = 0.98 * self._hrv + 0.02 * self.rng.standard_normal()
        self._heart_phase += 2 * np.pi * heart_rate_bpm / 60.0 * (1 + 0.03 * self._hrv) * dt
        p, h = self._phase, self._heart_phase
        breath = self.breath_amplitude_mm * (np.sin(p) + 0.25 * np.sin(2 * p + 0.6) + 0.08 * np.sin(3 * p + 1.1))
        heart = self.heart_amplitude_mm * (np.sin(h) + 0.3 * np.sin(2 * h + 0.8))
        if moving:
            self._drift += self.rng.normal(0, 0.6)
        else:
            self._drift *= 0.9
        return float(breath + heart + self._drift + self.rng.normal(0, self.noise_mm))
