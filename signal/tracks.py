"""Synthetic room-radar tracks with known truth: scenarios for the tests and the behaviour bench.

A ``Scene`` moves one or two people through a room at the radar's frame rate and records,
beside the frames, what truly happened (bed entries and exits, falls that stay down, falls
that get up...). Heights are of the body's centroid above the floor: about 1.0 m standing,
0.45 m lying in bed, 0.2 m lying on the floor. Noise and missed frames are optional.

``track_drop_s`` makes the tracker behave like a real one (TI's people tracking): a person
still for that long is let go (no target in the frames, though they are there), and is
picked up again under a new track id after ``alloc_s`` of moving; frames with nobody
tracked are still sent, empty.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from eldergate.drivers.readings import Target, Targets

BED = (-1.9, -0.5, 0.2, 2.2)  # x_min, x_max, y_min, y_max: the demo home's bed zone
BED_CENTRE = (-1.2, 1.2)


@dataclass
class Person:
    x: float = 0.8
    y: float = 0.8
    z: float = 1.0
    vx: float = 0.0
    vy: float = 0.0
    vz: float = 0.0
    present: bool = True
    standing_z: float = 1.0
    track: int | None = None  # the tracker's id while tracked (track_drop_s mode)
    still_since: float | None = None
    moving_since: float | None = None


@dataclass
class Scene:
    fs: float = 10.0
    t0: float = 0.0
    noise_m: float = 0.0
    miss: float = 0.0  # probability a frame is lost
    seed: int = 0
    track_drop_s: float | None = None  # None: every person tracked in every frame
    alloc_s: float = 1.0  # moving this long before a new track starts
    people: list[Person] = field(default_factory=lambda: [Person()])
    frames: list[Targets] = field(default_factory=list)
    truth: list[tuple[float, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)
        self.t = self.t0
        self.people[0].z = self.people[0].standing_z
        self._next_track = 1

    # -- frames -------------------------------------------------------------------------------

    def _frame(self) -> None:
        self.t += 1.0 / self.fs
        if self.rng.random() < self.miss:
            return
        targets = []
        for i, p in enumerate(self.people):
            tid = self._tracked(p) if self.track_drop_s is not None else (i + 1 if p.present else None)
            if tid is None:
                continue
            n = self.rng.normal(0, self.noise_m, 3) if self.noise_m else np.zeros(3)
            targets.append(Target(id=tid, x=p.x + n[0], y=p.y + n[1], z=max(0.0, p.z + n[2]),
                                  vx=p.vx, vy=p.vy, vz=p.vz))
        self.frames.append(Targets(targets=tuple(targets), t=self.t, sensor="room_radar"))

    def _tracked(self, p: Person) -> int | None:
        """The track id a real tracker would report for ``p`` now, or None."""
        if not p.present:
            p.track = p.still_since = p.moving_since = None
            return None
        moving = math.hypot(p.vx, p.vy, p.vz) > 0.05
        if moving:
            p.still_since = None
            p.moving_since = p.moving_since if p.moving_since is not None else self.t
        else:
            p.moving_since = None
            p.still_since = p.still_since if p.still_since is not None else self.t
        assert self.track_drop_s is not None
        if p.track is None and p.moving_since is not None and self.t - p.moving_since >= self.alloc_s:
            p.track, self._next_track = self._next_track, self._next_track + 1
        elif p.track is not None and p.still_since is not None and self.t - p.still_since >= self.track_drop_s:
            p.track = None
        return p.track

    def hold(self, seconds: float, who: int = 0) -> Scene:
        p = self.people[who]
        p.vx = p.vy = p.vz = 0.0
        for _ in range(round(seconds * self.fs)):
            self._frame()
        return self

    def move(self, x: float, y: float, z: float | None = None, speed: float = 0.8, who: int = 0) -> Scene:
        """Walk (or lie down, sit...) to (x, y, z) at ``speed`` m/s, with a small gait bob."""
        p = self.people[who]
        z_end = p.z if z is None else z
        dist = math.hypot(x - p.x, y - p.y)
        steps = max(1, round(max(dist / speed, abs(z_end - p.z) / 0.5) * self.fs))
        x0, y0, z0 = p.x, p.y, p.z
        for k in range(1, steps + 1):
            f = k / steps
            bob = 0.03 * math.sin(2 * math.pi * 1.8 * k / self.fs) if dist > 0.2 and z is None else 0.0
            nx, ny, nz = x0 + (x - x0) * f, y0 + (y - y0) * f, z0 + (z_end - z0) * f + bob
            p.vx, p.vy, p.vz = (nx - p.x) * self.fs, (ny - p.y) * self.fs, (nz - p.z) * self.fs
            p.x, p.y, p.z = nx, ny, nz
            self._frame()
        p.z = z_end  # the gait's bob is not where the body ends up
        p.vx = p.vy = p.vz = 0.0
        return self

    def drop(self, z: float, seconds: float, who: int = 0) -> Scene:
        """A fast change of height in place (a fall, sitting down, bending)."""
        p = self.people[who]
        z0 = p.z
        steps = max(1, round(seconds * self.fs))
        for k in range(1, steps + 1):
            nz = z0 + (z - z0) * k / steps
            p.vz = (nz - p.z) * self.fs
            p.z = nz
            self._frame()
        p.vz = 0.0
        return self

    def mark(self, name: str, at: float | None = None) -> Scene:
        self.truth.append((self.t if at is None else at, name))
        return self

    # -- activities with truth ---------------------------------------------------------------

    def walk_about(self, seconds: float, who: int = 0) -> Scene:
        end = self.t + seconds
        while self.t < end:
            self.move(float(self.rng.uniform(0.0, 1.5)), float(self.rng.uniform(0.3, 2.5)),
                      speed=float(self.rng.uniform(0.4, 1.0)), who=who)
            self.hold(float(self.rng.uniform(1.0, 4.0)), who=who)
        return self

    def go_to_bed(self, lie_s: float) -> Scene:
        self.move(-0.3, 1.2).move(*BED_CENTRE)
        self.mark("bed_entry")
        self.drop(0.45, 1.5).hold(lie_s)
        return self

    def turn_over(self) -> Scene:
        """Rolls towards the edge of the bed and back: motion in bed, briefly near the zone's edge."""
        return self.move(-0.6, 1.3, speed=0.5).move(*BED_CENTRE, speed=0.5).hold(20)

    def get_up(self, returning: bool = False) -> Scene:
        self.drop(self.people[0].standing_z, 1.5)
        self.move(-0.4, 1.2, speed=0.5)
        self.mark("bed_exit")
        return self.move(0.4, 1.0)

    def fall(self, stay_s: float, at: tuple[float, float] = (0.4, 1.0)) -> Scene:
        self.move(*at)
        self.drop(0.2, float(self.rng.uniform(0.4, 0.9)))
        self.mark("possible_fall")
        start = self.t
        self.hold(stay_s)
        if stay_s >= 45:
            self.mark("fall", at=start + 45)
        else:
            self.drop(self.people[0].standing_z, 2.0).hold(5)
            self.mark("fall_cancelled")
        return self

    def sit_down_fast(self) -> Scene:
        return self.move(0.9, 2.0).drop(0.65, 0.4).hold(30).drop(self.people[0].standing_z, 1.0)

    def sit_on_low_stool(self, seconds: float = 60.0) -> Scene:
        """The hard non-fall: a fast sit onto a 30 cm stool ends as low as a fall does."""
        return self.move(1.0, 2.2).drop(0.48, 0.5).hold(seconds).drop(self.people[0].standing_z, 1.2)

    def bend_down(self) -> Scene:
        return self.drop(0.6, 0.7).hold(1.5).drop(self.people[0].standing_z, 0.8)

    def leave(self, who: int = 0) -> Scene:
        self.move(1.8, 0.2, who=who)
        self.people[who].present = False
        return self

    def arrive(self, who: int, x: float = 1.8, y: float = 0.2) -> Scene:
        while len(self.people) <= who:
            self.people.append(Person(x=x, y=y, present=False))
        self.people[who].present = True
        return self
