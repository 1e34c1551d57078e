"""One health record per sensor, from everything that knows something about it.

The parser counts frames and what it dropped; the link (a serial port, the home broker)
knows whether it is connected and its last error; the supervisor knows how often the
driver failed and was restarted; the home pipeline knows whether the sensor has gone
silent beyond its check-in. ``sensor_health`` folds them into one ``SensorHealth``, which
the status page, Home Assistant, telemetry and the uplink's ``status`` all read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from eldergate.drivers.base import ParserStats

SensorState = Literal["ok", "degraded", "silent", "disconnected", "failing"]


@dataclass
class LinkHealth:
    """What a transport knows of its link (a serial port, the home's broker); it writes these."""

    name: str
    connected: bool = False
    reconnects: int = 0
    last_error: str | None = None
    last_data: float | None = None


@dataclass(frozen=True, slots=True)
class SensorHealth:
    sensor: str
    state: SensorState
    connected: bool | None  # None: no link of its own to judge (fed through the in-process bus)
    reconnects: int = 0
    last_error: str | None = None
    last_data: float | None = None
    restarts: int = 0  # driver failures the supervisor restarted
    counters: dict[str, int] = field(default_factory=dict)  # the parser's ParserStats

    def as_dict(self) -> dict[str, object]:
        return {"state": self.state, "connected": self.connected, "reconnects": self.reconnects,
                "last_error": self.last_error, "restarts": self.restarts, **self.counters}


class GarbageWatch:
    """Whether a sensor's line is noisy: over the last window, more than ``byte_share`` of its bytes
    dropped, or more than ``frame_share`` of its frames bad (checksum, length, undecodable). Says so
    once when it starts and once when it clears (a radar dropping 99,328 bytes was "ok" before)."""

    def __init__(self, byte_share: float = 0.01, frame_share: float = 0.05) -> None:
        self.byte_share, self.frame_share = byte_share, frame_share
        self.degraded = False
        self._last: dict[str, int] | None = None

    def update(self, stats: ParserStats) -> bool | None:
        """Judge the window since the last call; returns the new state when it changed, else None."""
        now = stats.as_dict()
        last, self._last = self._last, now
        if last is None:
            return None
        d = {k: now[k] - last[k] for k in now}
        bad_frames = d["bad_checksum"] + d["bad_length"] + d["malformed"]
        noisy = (d["bytes_in"] > 0 and d["dropped_bytes"] > self.byte_share * d["bytes_in"]) or (
            bad_frames > self.frame_share * max(1, d["frames"] + bad_frames))
        if noisy == self.degraded:
            return None
        self.degraded = noisy
        return noisy


def sensor_health(sensor: str, stats: ParserStats, silent: bool, link: LinkHealth | None = None,
                  restarts: int = 0, running: bool = True, degraded: bool = False) -> SensorHealth:
    """Worst first: a driver that keeps failing, a link that is down, a sensor gone silent, a noisy line."""
    state: SensorState = "degraded" if degraded else "ok"
    if silent:
        state = "silent"
    if link is not None and not link.connected:
        state = "disconnected"
    if restarts and not running:
        state = "failing"
    return SensorHealth(sensor, state, None if link is None else link.connected,
                        link.reconnects if link else 0, link.last_error if link else None,
                        link.last_data if link else None, restarts, stats.as_dict())
