"""The last minutes of what the sensors sent, kept in memory for a diagnostic bundle
(docs/install.md, "Diagnostics from afar"): the same items a ``eldergate record`` capture holds,
taken from the transports' raw taps. Bounded by time and by bytes, never written to disk: a
box that restarts has forgotten them, and nothing of it leaves the box unless the community
server asks for a diagnostic capture (gateway/delivery/diagnostic_capture.py decides what of it
may go)."""

from __future__ import annotations

import threading
from collections import deque

from eldergate.gateway.links.capture import CaptureItem

ITEM_OVERHEAD = 64  # bytes a kept item costs beyond its data (its tuple, its time, its names)


class RecentCapture:
    def __init__(self, window_s: float = 600.0, max_bytes: int = 8 << 20) -> None:
        self.window_s, self.max_bytes = window_s, max_bytes
        self._items: deque[tuple[CaptureItem, int]] = deque()
        self._bytes = 0
        self.forgotten = 0  # items pushed out by the byte bound before their time was up
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.window_s > 0 and self.max_bytes > 0

    def serial(self, t: float, sensor: str, data: bytes) -> None:
        self._keep(CaptureItem(t, sensor, data=bytes(data)), len(data))

    def message(self, t: float, sensor: str, topic: str, payload: bytes) -> None:
        self._keep(CaptureItem(t, sensor, topic=topic, payload=bytes(payload)), len(topic) + len(payload))

    def _keep(self, item: CaptureItem, size: int) -> None:
        if not self.enabled:
            return
        size += ITEM_OVERHEAD
        with self._lock:
            self._items.append((item, size))
            self._bytes += size
            while self._bytes > self.max_bytes and self._items:
                self._bytes -= self._items.popleft()[1]
                self.forgotten += 1
            self._trim(item.t)

    def _trim(self, now: float) -> None:
        while self._items and self._items[0][0].t < now - self.window_s:
            self._bytes -= self._items.popleft()[1]

    def items(self, now: float) -> list[CaptureItem]:
        """What arrived within the window before ``now``, oldest first."""
        with self._lock:
            self._trim(now)
            return [item for item, _ in self._items]

    def size(self) -> int:
        with self._lock:
            return self._bytes
