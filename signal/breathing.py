"""Breathing rate from a chest-displacement window, with its octave checked.

The peak is taken in the spectrum weighted by frequency (the spectrum of a half-derivative):
that cancels part of the slow postural drift's 1/f² rise, which otherwise puts the peak at
the band's low edge (measured on the recordings: 5/min picked in a third of S03's windows,
6 % with it). The same weighting doubles the weight of a breath's second harmonic, and a
breath counted at twice its rate is the common failure of radar breathing estimates. So a
peak is moved down an octave when half its rate holds a line of its own, and the estimate
is withheld when that line is too weak to decide either way.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from eldergate.signal.spectrum import power_spectrum, ramp01, refine_peak

Array = NDArray[np.float64]

# Power at half the peak's rate relative to the peak's (unweighted): at or above OCTAVE_DOWN
# the half rate is the breath and the peak its second harmonic; between OCTAVE_UNSURE and
# OCTAVE_DOWN it cannot be told, below it the peak stands.
OCTAVE_DOWN = 0.5
OCTAVE_UNSURE = 0.2
PEAK_HALFWIDTH_HZ = 0.04  # the quality counts the weighted power within this of the peak


def breathing_peak(x: Array, fs: float, band_hz: tuple[float, float]) -> tuple[float, float]:
    """(rate in Hz, quality in [0, 1]) of the breathing in window ``x`` sampled at ``fs``."""
    freqs, power = power_spectrum(x, fs)
    band = (freqs >= band_hz[0]) & (freqs <= band_hz[1])
    weighted = power * freqs
    k = int(np.argmax(np.where(band, weighted, 0.0)))
    half = _half_rate_line(freqs, power, k, band_hz[0])
    unsure = False
    if half is not None:
        ratio = power[half] / max(power[k], 1e-30)
        if ratio >= OCTAVE_DOWN:
            k = half
        else:
            unsure = ratio >= OCTAVE_UNSURE
    f = refine_peak(freqs, power, k)
    near = band & (np.abs(freqs - freqs[k]) <= PEAK_HALFWIDTH_HZ)
    q = float(weighted[near].sum() / max(weighted[band].sum(), 1e-30))
    return f, 0.0 if unsure else ramp01(q, 0.2, 0.7)


def _half_rate_line(freqs: Array, power: Array, k: int, lowest_hz: float) -> int | None:
    """Index of a separate spectral peak near half of bin k's frequency, or None.

    Separate: a local maximum within ±10 % of the half rate, with a valley between it and
    the peak at most a quarter of its height (so it is not the skirt of the drift or of the
    peak itself).
    """
    target = freqs[k] / 2
    if target < lowest_hz:
        return None
    near = np.nonzero(np.abs(freqs - target) <= 0.1 * target)[0]
    if len(near) < 3:
        return None
    j = int(near[np.argmax(power[near])])
    if j in (near[0], near[-1]):  # rising towards the edge of the search: a slope, not a line
        return None
    valley = float(power[j:k + 1].min())
    return j if valley <= 0.25 * power[j] else None
