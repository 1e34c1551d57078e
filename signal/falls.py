"""Falls from the body's height over time, and from the radar's own fall flag.

A fall is a fast drop of the tracked body's height (centroid or top of the body) that
ends low, outside the bed: a *possible fall* at once. If the person stays low for
``confirm_after_s`` it is a confirmed *fall*; if they get back up first, the possible
fall is *cancelled*. Sitting down ends above ``low_m``; bending comes back up within a
couple of seconds; lying down on the bed happens inside the bed zone; walking does not
drop. TI's visualizer uses "height below 0.6 of its value 2.5 s earlier" as its rule
(protocols.md §4.3): the simple-threshold baseline in bench/ is that rule.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from eldergate.signal.model import Event, EventName


@dataclass(frozen=True, slots=True)
class FallSettings:
    drop_window_s: float = 2.0  # the drop happens within this long
    min_drop_m: float = 0.45
    min_speed_ms: float = 0.7  # average downward speed of the drop
    low_m: float = 0.5  # ends below this
    up_m: float = 0.8  # back above this (for up_hold_s): got up
    up_hold_s: float = 2.0
    confirm_after_s: float = 45.0


class FallDetector:
    def __init__(self, resident: str, room: str, sensor: str = "", settings: FallSettings | None = None) -> None:
        self.s = settings or FallSettings()
        self.resident, self.room, self.sensor = resident, room, sensor
        self._hist: deque[tuple[float, float]] = deque()
        self.state: str = "up"  # up | down | confirmed
        self._down_since = 0.0
        self._up_since: float | None = None

    def height(self, t: float, z: float, in_bed: bool = False) -> list[Event]:
        hist = self._hist
        hist.append((t, z))
        while hist and t - hist[0][0] > self.s.drop_window_s:
            hist.popleft()
        if self.state == "up":
            return self._check_drop(t, z, in_bed)
        if z >= self.s.up_m:
            if self._up_since is None:
                self._up_since = t
            if t - self._up_since >= self.s.up_hold_s:
                return self._got_up(t)
        else:
            self._up_since = None
        return self.tick(t)

    def device_flag(self, t: float, fallen: bool) -> list[Event]:
        if fallen and self.state == "up":
            return self._start(t, source="device", drop_m=None, speed=None)
        return self.tick(t)

    def tick(self, t: float) -> list[Event]:
        if self.state == "down" and t - self._down_since >= self.s.confirm_after_s:
            self.state = "confirmed"
            return [self._event(t, EventName.FALL, down_s=round(t - self._down_since, 1))]
        return []

    def cancel(self, t: float, reason: str, window_s: float) -> list[Event]:
        """The resident says they are all right (a button press, back in bed) within the window."""
        if self.state != "down" or t - self._down_since > window_s:
            return []
        self.state = "up"
        self._hist.clear()
        return [self._event(t, EventName.FALL_CANCELLED, down_s=round(t - self._down_since, 1), reason=reason)]

    @property
    def down(self) -> bool:
        return self.state == "down"

    def _check_drop(self, t: float, z: float, in_bed: bool) -> list[Event]:
        if z >= self.s.low_m or in_bed or len(self._hist) < 2:
            return []
        z_top = max(h for _, h in self._hist)
        # the drop starts when the body last stood near its top, not when it first got there
        t_top = next(ts for ts, h in reversed(self._hist) if h >= z_top - 0.05)
        drop = z_top - z
        if drop < self.s.min_drop_m or t <= t_top:
            return []
        speed = drop / (t - t_top)
        if speed < self.s.min_speed_ms:
            return []
        return self._start(t, source="height", drop_m=round(drop, 2), speed=round(speed, 2))

    def _start(self, t: float, source: str, drop_m: float | None, speed: float | None) -> list[Event]:
        self.state = "down"
        self._down_since = t
        self._up_since = None
        return [self._event(t, EventName.POSSIBLE_FALL, source=source, drop_m=drop_m, speed_ms=speed)]

    def _got_up(self, t: float) -> list[Event]:
        name = EventName.FALL_CANCELLED if self.state == "down" else EventName.FALL_RECOVERED
        down_s = round(t - self._down_since, 1)
        self.state = "up"
        self._hist.clear()
        return [self._event(t, name, down_s=down_s)]

    def _event(self, t: float, name: EventName, **details: float | str | None) -> Event:
        return Event(t, name, self.resident, self.room, self.sensor, None, details)
