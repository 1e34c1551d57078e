"""Heart rate from a chest-displacement window: spectral evidence, a tracker, and the checks
that keep a confidently wrong number off the screen.

The tracker (signal/rate_tracker.py) accumulates, second by second, the evidence for a rate
f: the spectrum's relative power at f plus at 2f. That sum cannot tell a heart at f whose
second harmonic dominates from a heart at 2f: both put their strongest line at 2f. On
people it had never seen, the tracker locked onto such a line for a whole session and gave
it with high confidence (docs/vitals.md). So before a rate r is given, the competing
readings of the same lines are weighed explicitly (``doubt``):

- a line at r/2 (averaged over the last minute) means r may be the second harmonic of a
  heart at r/2: withheld, because nothing in the spectrum tells the two apart;
- no line at r while 2r has one means the tracker rests on 2r alone: r or 2r, withheld;
- a rate on a harmonic k·f_breath (k = 2..5) of a breath regular enough to be given is
  withheld when the breath's own harmonic k-1 shows as a line (before any is subtracted):
  the breath may then put a line at k·f_breath whether or not the heart does. A breath's
  harmonics fade as k grows, so where k-1 is not seen, k is the heart (on the recordings a
  heart near 4·f_breath was withheld in a fifth of S01's windows for no reason). A harmonic
  is not measured in a window where it falls on the tracked rate: there its line is the
  heart's as much as the breath's;
- a rate an octave away from the resident's own usual resting rate (earlier nights) is
  withheld;
- a rate high enough that r/2 would also be a heart rate, beside a measured breathing rate
  that makes r/breathing implausible (the pulse-respiration quotient of resting adults is
  about 4; above ``max_pulse_respiration_quotient`` the half rate is the likelier reading),
  is withheld unless it is the resident's own usual rate: this population fact only ever
  withholds a number, it never makes one;
- a rate above ``resting_max_bpm`` (a resting heart above 100 is tachycardia) whose second
  harmonic shows no line is withheld unless it is the resident's usual rate: one line alone
  is a heart at r or the second harmonic of one at r/2 whose fundamental does not reach the
  radar, and a resting r/2 is far the likelier. This too only withholds; a heart at r/2 ≤ 50
  seen only at r stays indistinguishable from one at r (docs/vitals.md);
- a rate that has not held within ``stable_bpm`` for ``stable_s`` is withheld (a resting
  heart drifts by a few bpm a minute; a jump is a tracker changing its mind);
- a rate that every window of the last ``lag_s`` puts more than ``lag_bpm`` away on one
  side is withheld: the heart has moved and the tracker has not caught up yet;
- a rate more than ``departure_bpm`` away from the rate this estimator has settled on in
  the last minutes must hold for ``rehold_s`` before it is given: a still chest's heart
  rarely moves that far, a tracker drifting onto a breathing harmonic does.

The quality given with a rate is calibrated: the share of rates at that raw quality that
were within ±5 bpm of the ECG on recordings left out of the fit (``calibration``,
docs/vitals.md says on which data).
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from eldergate.signal.rate_tracker import RateTracker, TrackerSettings
from eldergate.signal.spectrum import power_spectrum, relative_to_background

Array = NDArray[np.float64]


class HeartDoubt(enum.StrEnum):
    HALF_RATE = "half_rate_line"  # a line at r/2: r may be its second harmonic
    HARMONIC_ONLY = "harmonic_only"  # no line at r, one at 2r
    BREATH_HARMONIC = "breath_harmonic"  # on a harmonic of a regular breath
    PULSE_RESPIRATION = "pulse_respiration"  # r/breathing implausible while r/2 is a heart rate
    OCTAVE_OF_USUAL = "octave_of_usual"  # twice or half the resident's own resting rate
    OCTAVE_UNRESOLVED = "octave_unresolved"  # above a resting rate, one line alone: r, or 2nd harmonic of r/2
    UNSTABLE = "unstable"  # the rate has not held long enough
    LAGGING = "lagging"  # the latest windows all put the heart elsewhere: the tracker is behind
    DEPARTED = "departed"  # far from the rate settled on so far, and not yet held long enough
    WEAK = "weak"  # the evidence is not concentrated enough


# Raw quality (posterior mass within ±4 bpm) -> share within ±5 bpm of the ECG, isotonic, fit
# by bench/vitals_accuracy.py --calibrate on the five development sessions (docs/vitals.md).
CALIBRATION: tuple[tuple[float, float], ...] = ((0.0, 0.0), (0.482, 0.0), (0.552, 1.0), (0.995, 1.0), (1.0, 1.0))


@dataclass(frozen=True, slots=True)
class HeartSettings:
    breath_harmonics: int = 3  # breathing harmonics subtracted before the search
    notch_hz: float = 0.03  # evidence at any breathing harmonic is capped at the background
    tracker: TrackerSettings = field(default_factory=TrackerSettings)
    line_time_constant_s: float = 60.0  # averaging of the relative spectrum for the octave checks
    line_present: float = 4.0  # averaged relative power that counts as a line (noise averages ~1.4)
    max_pulse_respiration_quotient: float = 7.0
    resting_max_bpm: float = 100.0  # above this (tachycardia at rest) a line needs its 2nd harmonic too
    breath_harmonics_checked: int = 5  # a rate on k·breathing (k = 2..this) is in doubt...
    breath_harmonic_bpm: float = 2.0  # ...within this plus half a bpm per k...
    breath_series_line: float = 4.0  # ...when the breath's harmonic k-1 shows at least this line
    stable_s: int = 30  # updates (seconds) the rate must have held...
    stable_bpm: float = 8.0  # ...within this much
    lag_s: int = 15  # updates in a row whose own peak is more than...
    lag_bpm: float = 4.0  # ...this far on one side before the tracker is taken to be behind
    settled_s: int = 600  # the rates given over this many updates are the settled rate...
    departure_bpm: float = 10.0  # ...and a rate this far from their median...
    rehold_s: int = 120  # ...must hold this long first
    first_hold_s: int = 30  # with no settled rate yet (a new session), the first must hold this long
    calibration: tuple[tuple[float, float], ...] = CALIBRATION
    usual_bpm: float | None = None  # the resident's own resting rate from earlier nights, if known


@dataclass(frozen=True, slots=True)
class HeartReading:
    rate_bpm: float  # the tracker's rate, given or not
    raw_quality: float  # posterior mass near the rate
    quality: float  # calibrated: expected share within ±5 bpm
    doubt: HeartDoubt | None  # why the rate is not to be given; None: give it


class HeartEstimator:
    """One chest window per update; keeps the tracker and the averaged spectrum between them."""

    def __init__(self, settings: HeartSettings | None = None) -> None:
        self.s = settings or HeartSettings()
        self.tracker = RateTracker(self.s.tracker)
        grid = self.tracker.grid
        # the line average spans the tracked band and its octaves both ways
        self._line_grid = np.arange(grid[0] / 2, 2 * grid[-1] + self.s.tracker.step_bpm, self.s.tracker.step_bpm)
        self._lines: Array | None = None
        # averaged strength of the breath's own harmonics 1..k, before any is subtracted
        self._breath_lines = np.zeros(self.s.breath_harmonics_checked + 1)
        self._breath_seen = np.zeros(len(self._breath_lines))  # windows measured, per harmonic
        self._recent: deque[float] = deque(maxlen=max(1, self.s.stable_s, self.s.rehold_s, self.s.first_hold_s))
        self._settled: deque[float] = deque(maxlen=max(1, self.s.settled_s))
        self._peaks: deque[float] = deque(maxlen=max(1, self.s.lag_s))  # each window's own strongest rate
        # each window's breathing peak over the line average's span: how much the breath wanders
        self._breath_peaks: deque[float] = deque(maxlen=max(2, int(self.s.line_time_constant_s)))
        cal = np.asarray(self.s.calibration, dtype=np.float64)
        self._cal_x, self._cal_y = cal[:, 0], cal[:, 1]
        self.usual_bpm = self.s.usual_bpm

    def reset(self) -> None:
        self.tracker.reset()
        self._lines = None
        self._breath_lines[:] = 0.0
        self._breath_seen[:] = 0.0
        self._recent.clear()
        self._settled.clear()
        self._peaks.clear()
        self._breath_peaks.clear()

    def idle(self) -> HeartReading:
        """Time passes without evidence (the chest is moving, or the window is still short)."""
        self.tracker.predict()
        return self._reading(*self.tracker.estimate(), HeartDoubt.WEAK)

    def update(self, x: Array, fs: float, breath_hz: float, breathing_bpm: float | None) -> HeartReading:
        """Fold in one window (breathing not yet removed); ``breathing_bpm`` is the breathing
        rate as reported (None when breathing was too irregular to give)."""
        freqs, rel = self._relative_spectrum(x, fs, breath_hz)
        self._breath_peaks.append(breath_hz * 60.0)
        grid_hz = self.tracker.grid / 60.0
        fundamental = np.interp(grid_hz, freqs, rel)
        second = np.interp(2 * grid_hz, freqs, rel, right=1.0)  # above Nyquist: no evidence either way
        evidence = np.asarray(fundamental + second, dtype=np.float64)
        rate, mass = self.tracker.update(evidence)
        self._average_breath_lines(x, fs, breath_hz, rate)
        self._peaks.append(float(self.tracker.grid[int(np.argmax(evidence))]))
        self._average_lines(freqs, rel)
        self._recent.append(rate)
        doubt = self._doubt(rate, mass, breathing_bpm)
        if doubt is None:
            self._settled.append(rate)
        return self._reading(rate, mass, doubt)

    # -- evidence ---------------------------------------------------------------------------

    def _relative_spectrum(self, x: Array, fs: float, breath_hz: float) -> tuple[Array, Array]:
        hi = min(2 * self._line_grid[-1] / 60.0, 0.49 * fs)
        # Subtract the breathing fundamental and its first harmonics only: on the recordings the
        # higher ones are smeared by irregular breathing, and fitting them also removes the heart
        # whenever it sits near k·f_breath (S04: 75 bpm = 5 × 15/min).
        kmax = self.s.breath_harmonics
        x = remove_harmonics(x - x.mean(), fs, breath_hz, 0.0, (kmax + 0.5) * breath_hz)
        # The first difference whitens the 1/f-like spectrum of chest motion.
        freqs, power = power_spectrum(np.diff(x), fs)
        rel = relative_to_background(freqs, power, 0.3, hi + 0.1)
        # What is left at any breathing harmonic is not evidence for the heart.
        if breath_hz > 0:  # harmonics 1–8; beyond the 8th, breathing has faded into the noise
            offset = np.mod(freqs + 0.5 * breath_hz, breath_hz) - 0.5 * breath_hz
            near_harmonic = (np.abs(offset) < self.s.notch_hz) & (freqs < 8.5 * breath_hz)
            rel[near_harmonic] = np.minimum(rel[near_harmonic], 1.0)
        return freqs, rel

    def _average_lines(self, freqs: Array, rel: Array) -> None:
        # beyond Nyquist nothing is known: those points stay at the noise level
        now = np.interp(self._line_grid / 60.0, freqs, rel, right=1.0)
        if self._lines is None:
            self._lines = now
        else:
            a = 1.0 / max(1.0, self.s.line_time_constant_s)
            self._lines += a * (now - self._lines)

    def _average_breath_lines(self, x: Array, fs: float, breath_hz: float, heart_bpm: float) -> None:
        """How far each harmonic of this window's breath stands above its neighbourhood, before
        any is subtracted, averaged like the lines (the first windows measured weigh in fully).

        A harmonic that falls on the tracked heart rate is not measured in this window: its line
        there is the heart's as much as the breath's. Averaged in, it would later speak against
        that same heart once the breath has slowed and a higher harmonic reaches it (S01: a heart
        at 88 on 4 × 22/min, then 5 × 17.6/min, withheld for a breath line that was the heart)."""
        freqs, power = power_spectrum(np.diff(x - x.mean()), fs)
        hi = min(0.49 * fs, (len(self._breath_lines) + 1) * breath_hz + 0.5)
        rel = relative_to_background(freqs, power, 0.05, hi)
        for k in range(1, len(self._breath_lines)):
            bpm = k * breath_hz * 60.0
            if k > 1 and abs(bpm - heart_bpm) <= self._breath_harmonic_tolerance(k):
                continue
            near = np.abs(freqs - k * breath_hz) <= self.s.notch_hz
            now = float(rel[near].max()) if breath_hz > 0 and near.any() else 0.0
            self._breath_seen[k] += 1
            a = max(1.0 / self._breath_seen[k], 1.0 / max(1.0, self.s.line_time_constant_s))
            self._breath_lines[k] += a * (now - self._breath_lines[k])

    def breath_harmonic_line(self, k: int) -> float:
        """Averaged relative power of the breath's k-th harmonic (0 outside 1..checked)."""
        return float(self._breath_lines[k]) if 0 < k < len(self._breath_lines) else 0.0

    def line(self, bpm: float) -> float:
        """Averaged relative power of the strongest line within ±2 bpm (0 before any update)."""
        if self._lines is None:
            return 0.0
        near = np.abs(self._line_grid - bpm) <= 2.0
        return float(self._lines[near].max()) if near.any() else 0.0

    # -- the checks -------------------------------------------------------------------------

    def _doubt(self, rate: float, mass: float, breathing_bpm: float | None) -> HeartDoubt | None:
        s = self.s
        if mass <= 0.0:
            return HeartDoubt.WEAK
        # a line at r/2, down to the lowest rate tracked (bradycardia is real)
        if rate / 2 >= s.tracker.lo_bpm and self.line(rate / 2) >= s.line_present:
            return HeartDoubt.HALF_RATE
        if self.line(rate) < s.line_present <= self.line(2 * rate):
            return HeartDoubt.HARMONIC_ONLY
        if breathing_bpm and self._on_breath_harmonic(rate, breathing_bpm):
            return HeartDoubt.BREATH_HARMONIC
        usual = self.usual_bpm
        if usual and any(abs(rate - k * usual) <= 0.12 * k * usual for k in (0.5, 2.0)):
            return HeartDoubt.OCTAVE_OF_USUAL
        report_lo = s.tracker.lo_bpm + s.tracker.edge_bpm
        near_usual = usual is not None and abs(rate - usual) <= 0.15 * usual
        if (breathing_bpm and rate / 2 >= report_lo and not near_usual
                and rate / breathing_bpm > s.max_pulse_respiration_quotient):
            return HeartDoubt.PULSE_RESPIRATION
        if rate > s.resting_max_bpm and not near_usual and self.line(2 * rate) < s.line_present:
            return HeartDoubt.OCTAVE_UNRESOLVED
        if self._lagging(rate):
            return HeartDoubt.LAGGING
        held = self._held_s(rate)
        if held < s.stable_s or (not self._settled and held < s.first_hold_s):
            return HeartDoubt.UNSTABLE
        if (len(self._settled) >= 30 and abs(rate - float(np.median(self._settled))) > s.departure_bpm
                and held < s.rehold_s):
            return HeartDoubt.DEPARTED
        return None

    def _on_breath_harmonic(self, rate: float, breathing_bpm: float) -> bool:
        """r near k × breathing (k = 2..checked) where the breath's harmonic k-1 is a line. Where
        that harmonic also stands above r's own line, the breath is strong enough to smear its
        k-th harmonic by k times its own wander onto r, and the tolerance widens by that."""
        s = self.s
        wander = _robust_sd(self._breath_peaks)
        own = self.line(rate)
        for k in range(2, s.breath_harmonics_checked + 1):
            below = self.breath_harmonic_line(k - 1)
            if below < s.breath_series_line:
                continue
            tolerance = self._breath_harmonic_tolerance(k) + (k * wander if below >= own else 0.0)
            if abs(rate - k * breathing_bpm) <= tolerance:
                return True
        return False

    def _breath_harmonic_tolerance(self, k: int) -> float:
        return self.s.breath_harmonic_bpm + 0.5 * k

    def _lagging(self, rate: float) -> bool:
        """Each window's own strongest rate has stayed on one side of the tracked rate, and far
        from it, for the last ``lag_s`` updates: the heart has moved and the tracker not yet."""
        if len(self._peaks) < self.s.lag_s:
            return False
        off = np.asarray(self._peaks) - rate
        far = self.s.lag_bpm
        return bool(np.all(off > far) or np.all(off < -far))

    def _held_s(self, rate: float) -> int:
        """Updates (seconds) back to the last one more than ``stable_bpm`` from ``rate``."""
        held = 0
        for r in reversed(self._recent):
            if abs(r - rate) > self.s.stable_bpm:
                break
            held += 1
        return held

    def _reading(self, rate: float, mass: float, doubt: HeartDoubt | None) -> HeartReading:
        quality = float(np.interp(mass, self._cal_x, self._cal_y))
        return HeartReading(rate, mass, quality, doubt)


def _robust_sd(values: deque[float]) -> float:
    if len(values) < 2:
        return 0.0
    v = np.asarray(values)
    return float(1.4826 * np.median(np.abs(v - np.median(v))))


def remove_harmonics(x: Array, fs: float, f0: float, f_lo: float, f_hi: float) -> Array:
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
