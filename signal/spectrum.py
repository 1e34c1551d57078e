"""Small spectral helpers shared by the vitals estimator: windowed power spectra, peak
refinement, and a spectrum expressed relative to its own local background."""

from __future__ import annotations

import functools

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


@functools.lru_cache(maxsize=16)
def _window(n: int) -> tuple[Array, Array]:
    """Hann window and a unit centred ramp (for the linear detrend), cached per length."""
    ramp = np.arange(n, dtype=np.float64) - (n - 1) / 2.0
    return np.hanning(n), ramp / max(float(ramp @ ramp), 1e-12) ** 0.5


@functools.lru_cache(maxsize=32)
def frequencies(size: int, fs: float) -> Array:
    return np.asarray(np.fft.rfftfreq(size, 1.0 / fs), dtype=np.float64)


def power_spectrum(x: Array, fs: float, nfft: int = 2048) -> tuple[Array, Array]:
    """Detrended, Hann-windowed, zero-padded power spectrum: (frequencies, power)."""
    n = len(x)
    hann, unit_ramp = _window(n)
    x = x - x.mean()
    x = x - (x @ unit_ramp) * unit_ramp  # least-squares linear detrend
    size = max(nfft, n)
    spec = np.fft.rfft(x * hann, n=size)
    return frequencies(size, fs), spec.real**2 + spec.imag**2


def refine_peak(freqs: Array, power: Array, k: int) -> float:
    """Parabolic interpolation of the peak at bin k, clipped to half a bin."""
    if 0 < k < len(power) - 1:
        a, b, c = power[k - 1], power[k], power[k + 1]
        denom = a - 2 * b + c
        if denom < 0:
            return float(freqs[k] + np.clip(0.5 * (a - c) / denom, -0.5, 0.5) * (freqs[1] - freqs[0]))
    return float(freqs[k])


def ramp01(value: float, floor: float, full: float) -> float:
    """0 at or below ``floor``, 1 at or above ``full``, linear between."""
    return float(min(1.0, max(0.0, (value - floor) / (full - floor))))


def relative_to_background(freqs: Array, power: Array, lo: float, hi: float, width_hz: float = 1.0) -> Array:
    """Power in [lo, hi] divided by its running median over ``width_hz``.

    Chest motion has a steep, 1/f-like spectrum and its level changes from window to window
    (posture, breathing depth, a motion burst). Dividing by the local median turns each
    spectrum into "how far this line stands above its neighbourhood", which is comparable
    across frequencies and windows, so evidence can be multiplied over time.
    Block medians over 0.1 Hz, then a running median of those: cheap and close to a full
    running median at this resolution.
    """
    sel = (freqs >= lo) & (freqs <= hi)
    f, p = freqs[sel], power[sel]
    per_block = max(1, round(0.1 / (freqs[1] - freqs[0])))
    n_blocks = len(p) // per_block
    mid = per_block // 2
    blocks = np.partition(p[: n_blocks * per_block].reshape(n_blocks, per_block), mid, axis=1)[:, mid]
    half = max(1, round(width_hz / 0.1) // 2)
    padded = np.pad(blocks, half, mode="edge")
    windows = np.partition(np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1), half, axis=1)
    background = windows[:, half]
    centres = f[: n_blocks * per_block].reshape(n_blocks, per_block).mean(axis=1)
    bg = np.interp(f, centres, background)
    out = np.zeros_like(power)
    out[sel] = p / np.maximum(bg, 1e-30)
    return out


def band_std(x: Array, fs: float, band_hz: tuple[float, float]) -> float:
    """Standard deviation of ``x`` restricted to a frequency band (Parseval over its FFT)."""
    n = len(x)
    spec = np.fft.rfft(x - x.mean())
    freqs = frequencies(n, fs)
    band = (freqs >= band_hz[0]) & (freqs <= band_hz[1]) & (freqs > 0) & (freqs < fs / 2)
    power = spec[band].real ** 2 + spec[band].imag ** 2
    return float(np.sqrt(2.0 * power.sum()) / n)
