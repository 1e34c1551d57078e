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
from typing import Literal

from eldergate.signal.model import Event, EventName

FallState = Literal["up", "down", "confirmed"]  # down: a possible fall; confirmed: still down after the wait


@dataclass(frozen=True, slots=True)
class FallSettings:
    drop_window_s: float = 2.0  # the drop happens within this long
    min_drop_m: float = 0.45
    min_speed_ms: float = 0.5  # average downward speed of the drop (lying down slowly is 0.2–0.3)
    low_m: float = 0.42  # ends below this: lying on the floor (a low stool leaves the centroid near 0.48 m)
    up_share: float = 0.75  # back above this share of the height before the fall (median over up_hold_s): up
    up_hold_s: float = 2.0
    confirm_after_s: float = 45.0


class FallDetector:
    def __init__(self, resident: str, room: str, sensor: str = "", settings: FallSettings | None = None) -> None:
        self.s = settings or FallSettings()
        self.resident, self.room, self.sensor = resident, room, sensor
        self._hist: deque[tuple[float, float]] = deque()
        self.state: FallState = "up"
        self._down_since = 0.0
        self._top = 1.0  # body height before the fall
        self._recent: deque[tuple[float, float]] = deque()  # heights while down, for the median

    def height(self, t: float, z: float, in_bed: bool = False) -> list[Event]:
        hist = self._hist
        hist.append((t, z))
        while hist and t - hist[0][0] > self.s.drop_window_s:
            hist.popleft()
        if self.state == "up":
            return self._check_drop(t, z, in_bed)
        recent = self._recent
        recent.append((t, z))
        while recent and t - recent[0][0] > self.s.up_hold_s:
            recent.popleft()
        # up: the median over the last up_hold_s is back near the height before the fall (noise-proof,
        # and relative, so a short person standing at 0.85 m is "up" too)
        spanned = t - recent[0][0] >= self.s.up_hold_s * 0.9
        if spanned and sorted(h for _, h in recent)[len(recent) // 2] >= self.s.up_share * self._top:
            return self._got_up(t)
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

    def resume_fallen(self, t: float) -> None:
        """After a restart with a fall alert still open: the person is down until seen up again."""
        self.state = "confirmed"
        self._down_since = t
        self._recent.clear()

    @property
    def down(self) -> bool:
        return self.state == "down"

    def _check_drop(self, t: float, z_raw: float, in_bed: bool) -> list[Event]:
        if len(self._hist) < 3 or in_bed:
            return []
        # the median of the last three heights: one noisy frame neither makes nor hides a fall
        z = sorted(h for _, h in list(self._hist)[-3:])[1]
        if z >= self.s.low_m:
            return []
        heights = sorted(h for _, h in self._hist)
        z_top = heights[-2] if len(heights) > 2 else heights[-1]  # second highest: one noisy frame is no top
        drop = z_top - z
        if drop < self.s.min_drop_m:
            return []
        # speed over the fall itself: from the last moment the body was still min_drop above where it is now
        t_high, z_high = next(((ts, h) for ts, h in reversed(self._hist) if h >= z + self.s.min_drop_m),
                              (0.0, 0.0))
        if t <= t_high or (z_high - z) / (t - t_high) < self.s.min_speed_ms:
            return []
        self._top = z_top
        speed = (z_high - z) / (t - t_high)
        return self._start(t, source="height", drop_m=round(drop, 2), speed=round(speed, 2))

    def _start(self, t: float, source: str, drop_m: float | None, speed: float | None) -> list[Event]:
        self.state = "down"
        self._down_since = t
        self._recent.clear()
        return [self._event(t, EventName.POSSIBLE_FALL, source=source, drop_m=drop_m, speed_ms=speed)]

    def _got_up(self, t: float) -> list[Event]:
        name = EventName.FALL_CANCELLED if self.state == "down" else EventName.FALL_RECOVERED
        down_s = round(t - self._down_since, 1)
        self.state = "up"
        self._hist.clear()
        self._recent.clear()
        return [self._event(t, name, down_s=down_s)]

    def _event(self, t: float, name: EventName, **details: float | str | None) -> Event:
        return Event(t, name, self.resident, self.room, self.sensor, None, details)
