"""Clocks. The runtime stamps readings with ``now()``; the demo compresses time.

A ``ScaledClock`` runs at a changeable speed from a chosen start, so a simulated night
passes in seconds while the drivers, the pipeline and the emulators all agree on the
time. Every timer in the runtime reads one of these, so tests can control time.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...


class SystemClock:
    def now(self) -> float:
        return time.time()


class ScaledClock:
    def __init__(self, start: float, speed: float = 1.0) -> None:
        self._lock = threading.Lock()
        self._base_sim = start
        self._base_real = time.monotonic()
        self._speed = speed

    def now(self) -> float:
        with self._lock:
            return self._base_sim + (time.monotonic() - self._base_real) * self._speed

    @property
    def speed(self) -> float:
        return self._speed

    def set_speed(self, speed: float) -> None:
        with self._lock:
            real = time.monotonic()
            self._base_sim += (real - self._base_real) * self._speed
            self._base_real = real
            self._speed = speed

    def jump_to(self, t: float) -> None:
        with self._lock:
            self._base_sim, self._base_real = t, time.monotonic()

    def real_seconds_until(self, t: float) -> float:
        with self._lock:
            return max(0.0, (t - self.now_unlocked()) / self._speed)

    def now_unlocked(self) -> float:
        return self._base_sim + (time.monotonic() - self._base_real) * self._speed
