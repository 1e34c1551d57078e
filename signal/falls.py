"""Falls from the body's height over time, and from the radar's own fall flag.

Two ways lead to a *possible fall*, and either is confirmed as a *fall* when the person is
still down ``confirm_after_s`` after reaching the floor (up again first: *cancelled*):

* **a fast drop** of one person's height (one source: the centroid, or the top of the body)
  that ends low, outside the bed. The drop and its speed are relative to the robust height
  before it: a standing person (centroid about 1.0 m) must drop ``min_drop_share`` of it,
  about 0.45 m, and a seated one (about 0.6 m) about 0.27 m, so a fall from a chair, a bed's
  edge or a toilet counts like a fall from standing. Sitting down ends above ``low_m``;
  bending comes back up within a couple of seconds; lying down on the bed happens inside
  the bed zone; walking does not drop.
* **lying at floor level**: a person whose robust height stays at or below ``floor_m``
  outside the bed for ``floor_hold_s`` is down, whatever came before: a slow slide down a
  wall, a fall the radar saw only partly in a sparse cloud, a person found already on the
  floor. 10 s is chosen because nothing ordinary keeps the centroid that low that long: a
  squat or a crouch to pick something up keeps it near 0.45-0.6 m and lasts seconds, a low
  stool leaves it near 0.48 m, an armchair near 0.6 m (bench/fall_margin.py measures the
  margins); and 10 s adds little to the 45 s confirmation that follows. A chair zone does not
  exempt floor level: nobody sits in a chair with their centroid at 0.3 m. The price: someone
  who lies down on the floor on purpose for more than 10 s, alone, is a possible fall (and a
  fall after 45 s), as a person there would ask "are you all right?". The rule waits while
  someone else is in the room (a grandchild playing on the floor; a visitor sees a fall).

TI's visualizer uses "height below 0.6 of its value 2.5 s earlier" as its rule (protocols.md
§4.3): the simple-threshold baseline in bench/ is that rule.

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
    min_drop_share: float = 0.45  # of the robust height before: 0.45 m from standing, 0.27 m from sitting
    min_drop_m: float = 0.25  # and never less than this (the noise of a sparse cloud's centroid)
    # average downward speed of the drop, per metre of height before (lying down slowly from
    # standing is 0.2–0.3 m/s; a fall from standing 0.5 m/s or more, from a chair 0.3 or more)
    min_speed_share: float = 0.5
    # ends below this: lying on the floor (centroid about 0.2 m); a low stool leaves it near 0.48 m,
    # and the 1.5 s median of a sparse cloud's centroid wanders by about ±0.1 m (bench/fall_margin.py)
    low_m: float = 0.35
    up_share: float = 0.75  # back above this share of the robust height before the fall: up
    up_min_top_m: float = 0.8  # ...and of at least this: sitting up on the floor is not up
    up_hold_s: float = 2.0
    confirm_after_s: float = 45.0
    now_s: float = 1.5  # "now" is the median of this long
    floor_m: float = 0.3  # lying on the floor: centroid about 0.2 m (seated on a low stool 0.48)
    floor_hold_s: float = 10.0  # at floor level this long, outside the bed: down, whatever came before

    def min_drop(self, before: float) -> float:
        return max(self.min_drop_m, self.min_drop_share * before)

    def min_speed(self, before: float) -> float:
        return self.min_speed_share * max(before, self.min_drop_m)


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
        self._low_since: float | None = None  # robust height at floor level, outside the bed, since
        self._excused = False  # the resident said "I'm all right" while down: no floor rule until seen up

    def height(self, t: float, z: float, in_bed: bool = False, alone: bool = True) -> list[Event]:
        """One height of this person; ``alone`` False when someone else is in the room (a child
        playing on the floor is not down, and a visitor sees a fall): the floor rule waits."""
        self._add(t, z)
        if self.state == "up":
            self._floor_level(t, in_bed or not alone)
            return self._check_drop(t, in_bed) or self._check_floor(t)
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
        t_high, z_high = next(((te, m) for te, m in reversed(before) if m >= now + self.s.min_drop(top)),
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
        if self.state == "up":  # a tracker lets go of a still person: the floor's clock runs on
            return self._check_floor(t)
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
        self._excused = True  # resting on the floor after "I'm all right": the long-lie rule still watches
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
        before = now + drop
        if now >= self.s.low_m or drop < self.s.min_drop(before) or speed < self.s.min_speed(before):
            return []
        self._top = max(before, self.s.up_min_top_m)
        return self._start(t, source="height", drop_m=round(drop, 2), speed=round(speed, 2))

    def _floor_level(self, t: float, in_bed: bool) -> None:
        """Follow how long the robust height ("now") has been at floor level outside the bed."""
        if in_bed or len(self._samples) < 2:
            self._low_since = None
            return
        now = _median([h for _, h in self._samples])
        if now > self.s.floor_m:
            self._low_since = None
            self._excused = False
        elif self._excused:
            return
        elif self._low_since is None:
            self._low_since = t

    def _check_floor(self, t: float) -> list[Event]:
        since = self._low_since
        if since is None or t - since < self.s.floor_hold_s:
            return []
        self._low_since = None
        self._top = max(max((m for _, m in self._bins), default=0.0), self.s.up_min_top_m)
        self.state = "down"
        self._down_since = since  # the confirmation counts from reaching the floor
        self._recent.clear()
        return [self._event(t, EventName.POSSIBLE_FALL, source="floor", low_s=round(t - since, 1))]

    def _start(self, t: float, source: str, drop_m: float | None, speed: float | None) -> list[Event]:
        """Down since ``t`` (the confirmation counts from there)."""
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
        self._low_since = None
        self._samples.clear()
        self._bins.clear()
        self._bin, self._bin_end = [], None

    def _event(self, t: float, name: EventName, **details: float | str | None) -> Event:
        return Event(t, name, self.resident, self.room, self.sensor, None, details)
