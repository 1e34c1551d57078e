"""Clocks. The runtime stamps readings with ``now()``; the demo compresses time.

A ``ScaledClock`` runs at a changeable speed from a chosen start, so a simulated night
passes in seconds while the drivers, the pipeline and the emulators all agree on the
time. Every timer in the runtime reads one of these, so tests can control time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...


class SystemClock:
    def now(self) -> float:
        return time.time()


TRUSTED_AFTER = 1_767_225_600.0  # 2026-01-01: a wall clock before this has not been set (no RTC, no network)


class SteadyClock:
    """Wall time that advances like the monotonic clock, so intervals are always right.

    When the wall clock jumps (NTP setting the time after a boot without network, a manual
    change) by more than ``threshold_s``, the clock re-anchors to it and records the jump:
    the runtime restarts its timers instead of seeing hours of silence. ``trusted`` says
    whether the wall clock has been set at all.
    """

    def __init__(self, threshold_s: float = 2.0, wall: Callable[[], float] = time.time,
                 mono: Callable[[], float] = time.monotonic) -> None:
        self._wall, self._mono = wall, mono
        self.threshold_s = threshold_s
        self._lock = threading.Lock()
        self._jumps: list[float] = []
        self._anchor()

    def _anchor(self) -> None:
        self._wall0, self._mono0 = self._wall(), self._mono()

    def now(self) -> float:
        with self._lock:
            steady = self._wall0 + (self._mono() - self._mono0)
            wall = self._wall()
            if abs(wall - steady) > self.threshold_s:
                self._jumps.append(wall - steady)
                self._anchor()
                return wall
            return steady

    @property
    def trusted(self) -> bool:
        return self.now() >= TRUSTED_AFTER

    def take_jumps(self) -> list[float]:
        with self._lock:
            jumps, self._jumps = self._jumps, []
        return jumps


class SteppedClock:
    """Simulated time that moves only when its owner steps it. The demo steps it a few
    milliseconds' worth at a time, and only once the gateway has read everything sent so far:
    a stalled thread on a loaded machine slows the demo down instead of looking like an
    hour of silence."""

    def __init__(self, start: float) -> None:
        self._t = start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._t

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._t += seconds
