"""A Bayesian tracker of a slowly varying rate over a fixed grid (a forward-only HMM).

Each second the belief over the grid is diffused (the rate drifts by a fraction of a bpm
per second), mixed with a little of a broad prior (so a lost track can be re-acquired),
and multiplied by the new spectral evidence raised to a small power (successive windows
overlap heavily, so their evidence is far from independent). The estimate is the
posterior's peak; its quality is the posterior mass near that peak. Causal and O(grid).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class TrackerSettings:
    lo_bpm: float = 36.0
    hi_bpm: float = 150.0
    step_bpm: float = 0.5
    drift_bpm_per_update: float = 0.75  # sd of the rate's change between updates
    reacquire: float = 1e-3  # share of belief reset to the prior at each update
    prior_centre_bpm: float = 72.0  # a broad resting-heart-rate prior, used only for reacquiring
    prior_sd_bpm: float = 15.0
    evidence_power: float = 0.3
    quality_halfwidth_bpm: float = 4.0
    edge_bpm: float = 6.0  # rates reported: 42–144; the guard zones catch slopes and 2×HR lines


class RateTracker:
    def __init__(self, settings: TrackerSettings | None = None) -> None:
        self.s = s = settings or TrackerSettings()
        self.grid = np.arange(s.lo_bpm, s.hi_bpm + s.step_bpm / 2, s.step_bpm)
        half = int(np.ceil(4 * s.drift_bpm_per_update / s.step_bpm))
        offsets = np.arange(-half, half + 1) * s.step_bpm
        kernel = np.exp(-0.5 * (offsets / s.drift_bpm_per_update) ** 2)
        self._kernel = kernel / kernel.sum()
        prior = np.exp(-0.5 * ((self.grid - s.prior_centre_bpm) / s.prior_sd_bpm) ** 2)
        self._prior = prior / prior.sum()
        self._belief = np.full(len(self.grid), 1.0 / len(self.grid))

    def reset(self) -> None:
        self._belief[:] = 1.0 / len(self.grid)

    def predict(self) -> None:
        """Let time pass without evidence (a motion burst): the belief only spreads."""
        b = np.convolve(self._belief, self._kernel, mode="same")
        b = (1.0 - self.s.reacquire) * b + self.s.reacquire * self._prior
        self._belief = b / b.sum()

    def update(self, evidence: Array) -> tuple[float, float]:
        """Fold in evidence (positive, one value per grid point); return (rate, quality)."""
        self.predict()
        b = self._belief * np.power(np.maximum(evidence, 1e-6), self.s.evidence_power)
        total = float(b.sum())
        if not np.isfinite(total) or total <= 0:
            self.reset()
            return self.estimate()
        self._belief = b / total
        return self.estimate()

    def estimate(self) -> tuple[float, float]:
        k = int(np.argmax(self._belief))
        near = np.abs(self.grid - self.grid[k]) <= self.s.quality_halfwidth_bpm
        mass = self._belief[near]
        rate = float(mass @ self.grid[near] / max(float(mass.sum()), 1e-30))
        if min(rate - self.grid[0], self.grid[-1] - rate) < self.s.edge_bpm:
            return rate, 0.0  # a maximum at the band's edge is a slope, not a peak
        return rate, float(mass.sum())
