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

SensorState = Literal["ok", "silent", "disconnected", "failing"]


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


def sensor_health(sensor: str, stats: ParserStats, silent: bool, link: LinkHealth | None = None,
                  restarts: int = 0, running: bool = True) -> SensorHealth:
    """Worst first: a driver that keeps failing, a link that is down, a sensor gone silent."""
    state: SensorState = "ok"
    if silent:
        state = "silent"
    if link is not None and not link.connected:
        state = "disconnected"
    if restarts and not running:
        state = "failing"
    return SensorHealth(sensor, state, None if link is None else link.connected,
                        link.reconnects if link else 0, link.last_error if link else None,
                        link.last_data if link else None, restarts, stats.as_dict())
