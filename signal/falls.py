"""Falls from the body's height over time, and from the radar's own fall flag.

A fall is a fast drop of one person's height (one source: the centroid, or the top of
the body) that ends low, outside the bed: a *possible fall* at once. If the person stays
low for ``confirm_after_s`` it is a confirmed *fall*; if they get back up first, the
possible fall is *cancelled*. Sitting down ends above ``low_m``; bending comes back up
within a couple of seconds; lying down on the bed happens inside the bed zone; walking
does not drop. TI's visualizer uses "height below 0.6 of its value 2.5 s earlier" as its
rule (protocols.md §4.3): the simple-threshold baseline in bench/ is that rule.

Real point clouds are sparse and noisy (2–4 points per person per frame is common, and a
tracker's centroid jumps by tens of centimetres from frame to frame). So no single sample
decides anything: heights are medians over 0.25 s bins; "now" is the median of the last
1.5 s, "before" the highest bin median of the 2 s before that, and "up again" is the median
of 2 s back above ``up_share`` of that robust "before". One detector per person and source:
heights of different people or different sources in one history make drops out of nothing.
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
    # ends below this: lying on the floor (centroid about 0.2 m); a low stool leaves it near 0.48 m,
    # and the 1.5 s median of a sparse cloud's centroid wanders by about ±0.1 m (bench/fall_margin.py)
    low_m: float = 0.35
    up_share: float = 0.75  # back above this share of the robust height before the fall: up
    up_hold_s: float = 2.0
    confirm_after_s: float = 45.0
    now_s: float = 1.5  # "now" is the median of this long


BIN_S = 0.25  # heights are summarised as medians over bins this long


def _median(values: list[float]) -> float:
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


class FallDetector:
    def __init__(self, resident: str, room: str, sensor: str = "", settings: FallSettings | None = None) -> None:
        self.s = settings or FallSettings()
        self.resident, self.room, self.sensor = resident, room, sensor
        self._samples: deque[tuple[float, float]] = deque()  # the last now_s of raw heights
        self._bins: deque[tuple[float, float]] = deque()  # (bin end, median) over the drop window
        self._bin: list[float] = []
        self._bin_end: float | None = None
        self.state: FallState = "up"
        self._down_since = 0.0
        self._top = 1.0  # robust body height before the fall
        self._recent: deque[tuple[float, float]] = deque()  # heights while down, for the median

    def height(self, t: float, z: float, in_bed: bool = False) -> list[Event]:
        self._add(t, z)
        if self.state == "up":
            return self._check_drop(t, in_bed)
        recent = self._recent
        recent.append((t, z))
        while recent and t - recent[0][0] > self.s.up_hold_s:
            recent.popleft()
        # up: the median over the last up_hold_s is back near the height before the fall (noise-proof,
        # and relative, so a short person standing at 0.85 m is "up" too)
        spanned = t - recent[0][0] >= self.s.up_hold_s * 0.9
        if spanned and _median([h for _, h in recent]) >= self.s.up_share * self._top:
            return self._got_up(t)
        return self.tick(t)

    def features(self, t: float) -> tuple[float, float, float] | None:
        """(height now, drop, speed of the drop) as the detector sees them at ``t``; None until
        enough history. The bench reads them to state the margin to the thresholds."""
        if len(self._samples) < 2 or not self._bins:
            return None
        now = _median([h for _, h in self._samples])
        before = [(te, m) for te, m in self._bins if te <= t - self.s.now_s + 1e-9]
        if not before:
            return None
        top = max(m for _, m in before)
        t_high, z_high = next(((te, m) for te, m in reversed(before) if m >= now + self.s.min_drop_m),
                              max(before, key=lambda b: b[1]))
        dt = max(t - self.s.now_s / 2 - (t_high - BIN_S / 2), 0.1)
        return now, top - now, (z_high - now) / dt

    def _add(self, t: float, z: float) -> None:
        s = self.s
        self._samples.append((t, z))
        while self._samples and t - self._samples[0][0] > s.now_s:
            self._samples.popleft()
        if self._bin_end is None:
            self._bin_end = t + BIN_S
        if t >= self._bin_end:
            if self._bin:
                self._bins.append((self._bin_end, _median(self._bin)))
            self._bin = []
            self._bin_end = t + BIN_S
        self._bin.append(z)
        while self._bins and t - self._bins[0][0] > s.drop_window_s + s.now_s:
            self._bins.popleft()

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
        self._forget()
        return [self._event(t, EventName.FALL_CANCELLED, down_s=round(t - self._down_since, 1), reason=reason)]

    def resume_fallen(self, t: float) -> None:
        """After a restart with a fall alert still open: the person is down until seen up again."""
        self.state = "confirmed"
        self._down_since = t
        self._recent.clear()

    @property
    def down(self) -> bool:
        return self.state == "down"

    def _check_drop(self, t: float, in_bed: bool) -> list[Event]:
        if in_bed:
            return []
        f = self.features(t)
        if f is None:
            return []
        now, drop, speed = f
        if now >= self.s.low_m or drop < self.s.min_drop_m or speed < self.s.min_speed_ms:
            return []
        self._top = now + drop
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
        self._forget()
        self._recent.clear()
        return [self._event(t, name, down_s=down_s)]

    def _forget(self) -> None:
        self._samples.clear()
        self._bins.clear()
        self._bin, self._bin_end = [], None

    def _event(self, t: float, name: EventName, **details: float | str | None) -> Event:
        return Event(t, name, self.resident, self.room, self.sensor, None, details)
