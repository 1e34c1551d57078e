"""The ingest's in-process queue: bounded, with alerts in a lane of their own that is always
taken first, so a fall never waits behind a home's (or a city's) vitals.

Bounded on purpose: when the store falls behind, ``put`` blocks the broker's network thread, the
broker stops sending (its in-flight window is full) and holds the rest, as it is built to, instead
of this process growing until the unit's memory limit kills it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class Lanes(Generic[T]):
    def __init__(self, size: int) -> None:
        self.size = size
        self._urgent: deque[tuple[float, T]] = deque()
        self._rest: deque[tuple[float, T]] = deque()
        self._cond = threading.Condition()

    def put(self, item: T, urgent: bool, timeout: float | None = None) -> bool:
        """Queue it; blocks while full (up to ``timeout``: False if still full)."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self) < self.size, timeout):
                return False
            (self._urgent if urgent else self._rest).append((time.monotonic(), item))
            self._cond.notify_all()
            return True

    def take(self, most: int, timeout: float) -> list[T]:
        """Up to ``most`` items, the urgent lane first; waits up to ``timeout`` for the first."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self) > 0, timeout):
                return []
            out: list[T] = []
            for lane in (self._urgent, self._rest):
                while lane and len(out) < most:
                    out.append(lane.popleft()[1])
            self._cond.notify_all()
            return out

    def oldest_age(self) -> float:
        """Seconds the oldest waiting item has waited (0 when empty)."""
        with self._cond:
            firsts = [lane[0][0] for lane in (self._urgent, self._rest) if lane]
        return time.monotonic() - min(firsts) if firsts else 0.0

    def __len__(self) -> int:
        return len(self._urgent) + len(self._rest)
