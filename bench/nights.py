"""Whole nights as a real people-tracking radar reports them, with known truth.

Each night is a Scene with a tracker that lets a still person go after 30–120 s and picks
them up under a new id when they move, frames lost at random, sent as TI bytes through the
real driver into the home pipeline, ticked twice a second as live. Night types: normal
nights with toilet trips, restless sleep (turning, sitting up to read), an evening
visitor by the bed, the armchair night, an early riser, leaving the bedroom straight for
another room, and heavy tracking dropouts. Used by bench/behaviour_accuracy.py.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np

from eldergate.config.schema import Box, Config
from eldergate.drivers import ti_mmwave
from eldergate.gateway.core.alerts import RAISES, Severity
from eldergate.gateway.core.home import Home
from eldergate.gateway.tools.replay import tick_until
from eldergate.signal.model import Event
from eldergate.signal.summary import DailySummary
from eldergate.signal.tracks import Person, Scene

TZ = ZoneInfo("Asia/Shanghai")
CHAIR = Box(x_min=0.6, x_max=1.4, y_min=1.6, y_max=2.4)
KINDS = ("normal", "restless", "visitor", "armchair", "early_riser", "straight_out", "dropouts")
FS = 5.0  # frames per second (TI's tracking runs at 10–20; 5 keeps a night's bench short)


@dataclass
class Night:
    kind: str
    scene: Scene
    expected: set[str] = field(default_factory=set)  # alerts that are right this night (kind names)


@dataclass
class NightScore:
    kind: str
    exits_true: int
    exits_seen: int
    turnovers_true: int
    turnovers_seen: int
    active_true_min: float
    active_seen_min: float
    false_critical: list[str]
    false_warnings: list[str]
    missed: list[str]  # alerts this night should have raised and did not


def config(base: Config) -> Config:
    """The demo home's room radar alone (it has the bed zone), with an armchair zone."""
    room = next(s for s in base.sensors if s.id == "room_radar")
    placement = room.placement.model_copy(update={"chair_zones": [CHAIR]})
    return base.model_copy(update={"sensors": [room.model_copy(update={"check_in": None, "placement": placement})]})


def _at(day: dt.date, hh: int, mm: int) -> float:
    return dt.datetime(day.year, day.month, day.day, hh, mm, tzinfo=TZ).timestamp()


def make_night(kind: str, seed: int) -> Night:
    rng = np.random.default_rng(seed)
    day = dt.date(2026, 11, 1) + dt.timedelta(days=seed)
    nxt = day + dt.timedelta(days=1)
    drop = float(rng.uniform(30, 120)) if kind != "dropouts" else float(rng.uniform(15, 40))
    miss = float(rng.uniform(0.0, 0.05)) if kind != "dropouts" else 0.2
    s = Scene(t0=_at(day, 21, 0), fs=FS, seed=seed, noise_m=float(rng.uniform(0.02, 0.08)), miss=miss,
              track_drop_s=drop, alloc_s=float(rng.uniform(0.5, 1.5)),
              people=[Person(standing_z=float(rng.uniform(0.9, 1.05)))])
    night = Night(kind, s)
    s.walk_about(float(rng.uniform(300, 900)))
    if kind == "visitor":
        s.arrive(1, x=1.8, y=0.2)
        for _ in range(6):
            s.move(float(rng.uniform(-0.4, 0.2)), float(rng.uniform(0.6, 2.0)), who=1, speed=0.5)
            s.hold(float(rng.uniform(20, 120)), who=1)
        s.leave(who=1)
    if kind == "armchair":
        s.move(1.0, 2.0).drop(0.65, 1.0)
        while s.t < _at(nxt, 7, 10):
            s.hold(float(rng.uniform(10, 40)) * 60)
            s.move(1.05, 2.0, speed=0.1).move(1.0, 2.0, speed=0.1)
        s.drop(s.people[0].standing_z, 1.5).walk_about(300)
        night.expected.add("did_not_go_to_bed")
        return night
    s.go_to_bed(float(rng.uniform(60, 300)))
    wake = _at(nxt, 6, 10) if kind == "early_riser" else _at(nxt, 6, 45)
    trips = [] if kind in ("early_riser", "straight_out") else sorted(
        float(rng.uniform(_at(day, 23, 30), _at(nxt, 5, 0))) for _ in range(int(rng.integers(1, 3))))
    if kind == "straight_out":
        trips = [_at(nxt, 2, 0)]
        night.expected.add("out_of_bed_at_night")
    turn_every = 6 * 60 if kind == "restless" else 20 * 60
    while s.t < wake:
        if trips and s.t >= trips[0]:
            trips.pop(0)
            s.get_up()
            away = 40 * 60 if kind == "straight_out" else float(rng.uniform(3, 8)) * 60
            s.leave()
            s.hold(away)
            s.arrive(0, x=1.8, y=0.2)
            s.move(0.5, 1.0).go_to_bed(float(rng.uniform(30, 90)))
            continue
        s.hold(float(rng.uniform(0.5, 1.5)) * turn_every)
        s.mark("turnover")
        s.turn_over()
        if kind == "restless" and rng.random() < 0.2:
            s.drop(0.75, 2.0).hold(float(rng.uniform(60, 300))).drop(0.45, 2.0).hold(30)
    s.get_up()
    s.walk_about(float(rng.uniform(300, 900)))
    return night


def _moving_min(scene: Scene) -> float:
    moving = sum(1 for f in scene.frames if any(math.hypot(t.vx or 0.0, t.vy or 0.0) > 0.15 for t in f.targets))
    return moving / scene.fs / 60.0


def run_night(cfg: Config, night: Night) -> NightScore:
    s = night.scene
    home = Home(cfg, start=s.t0)
    parser = ti_mmwave.TiMmwaveParser()
    outputs = []
    for n, f in enumerate(s.frames):
        for r in parser.feed(ti_mmwave.tracking_frame(f.targets, n)):
            outputs += tick_until(home, f.t)
            outputs += home.process(dataclasses.replace(r, t=f.t, sensor="room_radar"))
    outputs += tick_until(home, s.t + 60.5)  # a minute on after the last frame, as in a home
    events = [o for o in outputs if isinstance(o, Event)]
    summary: DailySummary = home.summary_now(s.t + 60)[0]
    critical, warnings = [], []
    raised_kinds = {str(RAISES[e.name][0]) for e in events if e.name in RAISES}
    for e in events:
        raised = RAISES.get(e.name)
        if raised is None or str(raised[0]) in night.expected:
            continue
        (critical if raised[1] == Severity.CRITICAL else warnings).append(str(e.name))
    return NightScore(
        night.kind, sum(1 for _, n in s.truth if n == "bed_exit"), sum(1 for e in events if e.name == "bed_exit"),
        sum(1 for _, n in s.truth if n == "turnover"), sum(1 for e in events if e.name == "turnover"),
        _moving_min(s), summary.active_min, critical, warnings, sorted(night.expected - raised_kinds))
