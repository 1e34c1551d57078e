"""People in a room radar's view, from target lists that come and go.

Real trackers do not report every person in every frame. TI's people tracking sends no
target at all when it tracks nobody, and it lets go of a person who has been still for a
while (asleep, dozing, lying on the floor) even though they are still there; when they
move again it starts a new track with a new id. So a frame with no targets means "nobody
tracked now", not "nobody here", and a track id is not a person.

``RoomTracks`` keeps *people* across tracks:

- a new track that starts within ``rejoin_m`` of where an untracked person was last seen is
  that person again (the sleeper who turned over, the person on the floor who moved);
- a track that ends while its person was **moving** means they left the view (out of the
  room: the tracker follows moving people well);
- a track that ends while its person was **still** means they are still there, untracked:
  in the bed zone that is "still in bed", elsewhere "still here" (never "gone": a person
  lying motionless on the floor after a fall must not become an empty room);
- the **sleeper** is the person who entered the bed zone and stayed there; visitors are not,
  and their steps beside the bed are not the sleeper's turnovers.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from eldergate.drivers.readings import Target


class Zone(Protocol):
    def contains(self, x: float, y: float) -> bool: ...


@dataclass(frozen=True, slots=True)
class RoomSettings:
    moving_ms: float = 0.15  # faster than this is moving
    rejoin_m: float = 1.0  # a new track this close to an untracked person's last place is them
    left_rejoin_s: float = 5.0  # someone who walked out and is back this soon is the same person
    sleeper_after_s: float = 10.0  # in the bed zone this long: the sleeper
    sleeper_out_s: float = 20.0  # the sleeper tracked outside the zone this long is no longer in bed
    lying_max_m: float = 0.6  # centroid height at or below this in bed: lying (sitting up is above)
    # ...or within this of the person's own lying height: a roll lifts the centroid 0.08-0.15 m
    # for a second or two, sitting up 0.3 m or more (a lying centroid is about 0.45 m)
    sit_up_m: float = 0.22
    settle_s: float = 30.0  # in the bed zone this long before motion counts as turning over
    lie_settle_s: float = 10.0  # and lying this long (lying back down after sitting up is no turnover)
    # the sleeper sitting still on the bed's edge, just outside a zone drawn at the mattress: no
    # opinion for this long (a sit that returns to lying is no exit; standing up is one at once)
    edge_hold_s: float = 60.0
    edge_m: float = 0.35  # this close to the zone
    edge_top_m: float = 0.85  # and no higher than a seated centroid


@dataclass(slots=True)
class Person:
    key: int
    track: int | None  # the tracker's current id; None while untracked
    x: float
    y: float
    z: float | None
    seen_t: float
    speed: float = 0.0
    left: bool = False  # the track ended while moving: out of the view
    zone_since: float | None = None  # continuously in the bed zone since
    lying_since: float | None = None  # continuously at a lying height since
    lying_z: float | None = None  # this person's own lying height (a slow average while lying)
    heights: deque[tuple[float, float]] = field(default_factory=deque)  # the last second of heights
    rejoined_t: float | None = None  # picked up again under a new track: it moved (trackers start on motion)
    outside_since: float | None = None  # tracked outside the bed zone since


@dataclass
class RoomTracks:
    bed_zone: Zone | None = None
    chair_zones: Sequence[Zone] = ()
    settings: RoomSettings = field(default_factory=RoomSettings)

    def __post_init__(self) -> None:
        self.people: dict[int, Person] = {}
        self.sleeper: int | None = None
        self._next_key = 1
        self._by_track: dict[int, int] = {}  # track id -> person key

    # -- input ------------------------------------------------------------------------------

    def update(self, t: float, targets: Sequence[Target]) -> None:
        seen: set[int] = set()
        for tg in targets:
            key = self._by_track.get(tg.id)
            person = self.people.get(key) if key is not None else None
            if person is None:
                person = self._rejoin(t, tg) or self._new(t, tg)
                self._by_track[tg.id] = person.key
            self._move(person, t, tg)
            seen.add(person.key)
        for person in list(self.people.values()):
            if person.track is not None and person.key not in seen:
                self._track_ended(person)
            elif person.left and t - person.seen_t > 60.0:
                del self.people[person.key]
        self._update_sleeper(t)

    def nobody_here(self) -> None:
        """The radar itself says the room is empty (a presence output): nobody untracked is kept."""
        for p in [p for p in self.people.values() if p.track is None]:
            del self.people[p.key]
        if self.sleeper not in self.people:
            self.sleeper = None

    def track_person(self, track: int) -> int | None:
        """The person key of a track id (for a per-person fall detector)."""
        return self._by_track.get(track)

    # -- what the home logic asks -----------------------------------------------------------

    @property
    def tracked(self) -> int:
        return sum(1 for p in self.people.values() if p.track is not None)

    @property
    def present(self) -> bool:
        return any(not p.left for p in self.people.values())

    @property
    def alone(self) -> bool:
        """At most one person in the view (tracked, or still and untracked): the alone-rules apply."""
        return sum(1 for p in self.people.values() if not p.left) <= 1

    @property
    def moving(self) -> bool:
        return any(p.track is not None and p.speed > self.settings.moving_ms for p in self.people.values())

    def bed_evidence(self, t: float | None = None) -> bool | None:
        """The bed zone's say: True/False, or None when the sleeper is in bed but untracked
        (the track ended there), or sits still on the bed's edge for less than ``edge_hold_s``:
        then the other sources decide, or the state holds."""
        if self.bed_zone is None:
            return None
        sleeper = self.people.get(self.sleeper) if self.sleeper is not None else None
        if sleeper is not None:
            if sleeper.track is None and not sleeper.left:
                return None if self._in_zone(sleeper) else False
            if t is not None and self._on_edge(sleeper, t):
                return None
            return sleeper.track is not None and self._in_zone(sleeper)
        return any(p.track is not None and self._in_zone(p) for p in self.people.values())

    def sleeper_motion(self, t: float) -> tuple[bool, bool]:
        """(moving, lying) of the sleeper in bed, for turnovers: only the sleeper's motion counts,
        not while lying down, and a burst that ends sitting up is no turnover."""
        p = self.people.get(self.sleeper) if self.sleeper is not None else None
        if p is None or p.track is None or not self._in_zone(p) or p.zone_since is None:
            return False, True
        s = self.settings
        lying = p.lying_since is not None
        # lying in bed a while: not the lying down itself, nor lying back after sitting up
        settled = t - p.zone_since >= s.settle_s and lying and t - (p.lying_since or t) >= s.lie_settle_s
        # a track that starts again under the sleeper in bed is motion even if it is over by now:
        # a tracker only starts a track on a moving person (short turnovers end before it does)
        moved = p.speed > s.moving_ms or p.rejoined_t == t
        return settled and moved, lying

    def still_person(self) -> Person | None:
        """The one person present and not moving outside the bed, if there is exactly one."""
        here = [p for p in self.people.values() if not p.left and not (p.key == self.sleeper and self._in_zone(p))]
        if len(here) != 1 or here[0].speed > self.settings.moving_ms:
            return None
        return here[0]

    def in_chair(self, p: Person) -> bool:
        return any(z.contains(p.x, p.y) for z in self.chair_zones)

    # -- internals --------------------------------------------------------------------------

    def _new(self, t: float, tg: Target) -> Person:
        # Someone tracked far from where an untracked person was still: in a home of one, the
        # tracker has found them elsewhere, so the old place is forgotten (not the sleeper's bed).
        for old in [p for p in self.people.values() if p.track is None and not p.left and p.key != self.sleeper]:
            del self.people[old.key]
        p = Person(self._next_key, tg.id, tg.x, tg.y, tg.z, t)
        self._next_key += 1
        self.people[p.key] = p
        return p

    def _rejoin(self, t: float, tg: Target) -> Person | None:
        s = self.settings
        best: Person | None = None
        best_d = s.rejoin_m
        for p in self.people.values():
            if p.track is not None or (p.left and t - p.seen_t > s.left_rejoin_s):
                continue
            d = math.hypot(tg.x - p.x, tg.y - p.y)
            if p.key == self.sleeper and not p.left:
                d /= 2  # the sleeper untracked in bed gets up faster than a tracker picks them up
            if d <= best_d:
                best, best_d = p, d
        if best is not None:
            best.track, best.left, best.rejoined_t = tg.id, False, t
        return best

    def _move(self, p: Person, t: float, tg: Target) -> None:
        if tg.vx is not None or tg.vy is not None or tg.vz is not None:
            speed = math.hypot(tg.vx or 0.0, tg.vy or 0.0, tg.vz or 0.0)
        else:
            dt = t - p.seen_t
            speed = math.hypot(tg.x - p.x, tg.y - p.y) / dt if dt > 0 else p.speed
        p.track, p.x, p.y, p.z, p.seen_t, p.speed = tg.id, tg.x, tg.y, tg.z, t, speed
        # posture from the median height of the last second: one noisy frame is not sitting up
        if tg.z is not None:
            p.heights.append((t, tg.z))
            while p.heights and t - p.heights[0][0] > 1.0:
                p.heights.popleft()
        zs = sorted(z for _, z in p.heights)
        median = zs[len(zs) // 2] if zs else None
        limit = self.settings.lying_max_m
        if p.lying_z is not None:
            limit = max(limit, min(p.lying_z + self.settings.sit_up_m, limit + 0.1))
        if median is None or median <= limit:
            p.lying_since = p.lying_since if p.lying_since is not None else t
            if median is not None and p.speed <= self.settings.moving_ms:
                p.lying_z = median if p.lying_z is None else 0.95 * p.lying_z + 0.05 * min(median, limit)
        else:
            p.lying_since = None
        if self._in_zone(p):
            p.zone_since = p.zone_since if p.zone_since is not None else t
            p.outside_since = None
        else:
            p.zone_since = None
            p.outside_since = p.outside_since if p.outside_since is not None else t

    def _track_ended(self, p: Person) -> None:
        if p.track is not None:
            self._by_track.pop(p.track, None)
        p.track = None
        p.left = p.speed > self.settings.moving_ms
        p.speed = 0.0

    def _update_sleeper(self, t: float) -> None:
        s = self.settings
        sleeper = self.people.get(self.sleeper) if self.sleeper is not None else None
        if sleeper is not None and (sleeper.left or (
                sleeper.outside_since is not None and t - sleeper.outside_since >= s.sleeper_out_s
                and not self._on_edge(sleeper, t))):
            self.sleeper = sleeper = None
        if sleeper is None and self.bed_zone is not None:
            candidates = [p for p in self.people.values()
                          if p.zone_since is not None and t - p.zone_since >= s.sleeper_after_s]
            if candidates:
                self.sleeper = min(candidates, key=lambda p: p.zone_since or t).key

    def _on_edge(self, p: Person, t: float) -> bool:
        s = self.settings
        if p.outside_since is None or t - p.outside_since > s.edge_hold_s or p.speed > s.moving_ms:
            return False
        zs = sorted(z for _, z in p.heights)
        if not zs or zs[len(zs) // 2] > s.edge_top_m:
            return False
        d = s.edge_m
        return any(self.in_bed_zone(p.x + dx, p.y + dy) for dx, dy in ((d, 0), (-d, 0), (0, d), (0, -d)))

    def in_bed_zone(self, x: float, y: float) -> bool:
        return self.bed_zone is not None and self.bed_zone.contains(x, y)

    def _in_zone(self, p: Person) -> bool:
        return self.in_bed_zone(p.x, p.y)
