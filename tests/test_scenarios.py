"""Scenarios from emulated target tracks with known truth, through the real home pipeline:
every expected event at the right time (within a tolerance), and nothing else."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from eldergate.config.loader import load_config
from eldergate.config.schema import Config
from eldergate.drivers.readings import Contact, Reading
from eldergate.gateway.core.home import Home
from eldergate.signal.model import Event
from eldergate.signal.tracks import Scene

from testutil import ROOT

TZ = ZoneInfo("Asia/Shanghai")
NIGHT = dt.datetime(2026, 11, 21, 23, 30, tzinfo=TZ).timestamp()
DAY = dt.datetime(2026, 11, 22, 10, 0, tzinfo=TZ).timestamp()


@pytest.fixture(scope="module")
def cfg() -> Config:
    c = load_config(ROOT / "config" / "demo.toml")
    return c.model_copy(update={"sensors": [s for s in c.sensors if s.id != "bed_radar"]})  # the room radar alone


def run(cfg: Config, scene: Scene, extra: list[Reading] | None = None, tail_s: float = 5.0) -> list[tuple[float, str]]:
    home = Home(cfg, start=scene.t0)
    readings = sorted([*scene.frames, *(extra or [])], key=lambda r: r.t)
    events: list[Event] = []
    for r in readings:
        events += [o for o in home.process(r) if isinstance(o, Event)]
    t = scene.t
    while t < scene.t + tail_s:
        t += 1.0
        events += [o for o in home.tick(t) if isinstance(o, Event)]
    return [(e.t - scene.t0, str(e.name)) for e in events]


def check(got: list[tuple[float, str]], truth: list[tuple[float, str]], t0: float, tol: float = 4.0) -> None:
    expected = sorted((t - t0, n) for t, n in truth)
    got = sorted(got)  # events are stamped when they happened, which can be before they were emitted
    assert [n for _, n in got] == [n for _, n in expected], f"got {got}, expected {expected}"
    for (tg, n), (te, _) in zip(got, expected, strict=True):
        assert abs(tg - te) <= tol, f"{n}: at {tg:.1f} s, expected {te:.1f} s"


def test_walk_to_bed_lie_down_turn_over_stay(cfg: Config) -> None:
    s = Scene(t0=DAY).walk_about(30).go_to_bed(120)
    before = s.t
    s.turn_over().mark("turnover", at=before).hold(60)
    check(run(cfg, s), s.truth, s.t0, tol=6)


def test_get_up_at_night_and_stay_up_too_long(cfg: Config) -> None:
    s = Scene(t0=NIGHT).go_to_bed(60).get_up()
    exit_t = next(t for t, n in s.truth if n == "bed_exit")
    s.walk_about(31 * 60)
    s.mark("out_of_bed_at_night", at=exit_t + 30 * 60)
    check(run(cfg, s), s.truth, s.t0, tol=6)


def test_fall_beside_the_bed_and_stay_down(cfg: Config) -> None:
    s = Scene(t0=DAY, seed=2).walk_about(20).fall(60, at=(-0.2, 1.2))
    check(run(cfg, s), s.truth, s.t0)


def test_fall_and_get_up(cfg: Config) -> None:
    s = Scene(t0=DAY, seed=3).walk_about(20).fall(12).walk_about(20)
    check(run(cfg, s), s.truth, s.t0, tol=5)


@pytest.mark.parametrize("seed", range(5))
def test_sitting_down_fast_bending_and_walking_are_not_falls(cfg: Config, seed: int) -> None:
    s = Scene(t0=DAY, seed=seed, noise_m=0.03).walk_about(20).sit_down_fast().walk_about(15).bend_down()
    s.walk_about(15).bend_down().walk_about(20).sit_on_low_stool(90).walk_about(10)
    s.move(0.5, 1.5).drop(0.2, 3.0).hold(6).drop(1.0, 3.0)  # down on the floor a moment (under the bed)
    check(run(cfg, s), [], s.t0)


def test_lying_on_the_floor_on_purpose_for_a_minute_alone_is_a_possible_fall(cfg: Config) -> None:
    """The floor rule's price, on purpose (signal/falls.py): a minute at floor level alone is
    checked on, like a slide down a wall would be; getting up ends it."""
    s = Scene(t0=DAY, seed=4, noise_m=0.03).walk_about(20)
    s.move(0.5, 1.5).drop(0.2, 3.0).hold(60).drop(1.0, 3.0).walk_about(10)
    falls = [n for _, n in sorted(run(cfg, s)) if "fall" in n]
    assert falls[:1] == ["possible_fall"] and falls[-1] in ("fall_cancelled", "fall_recovered"), falls


def test_two_people_are_said_and_suppress_the_alone_rules(cfg: Config) -> None:
    s = Scene(t0=DAY).walk_about(10).arrive(1)
    start = s.t
    s.move(0.5, 2.0, who=1).walk_about(60)
    s.mark("several_people", at=start)
    s.leave(1)
    left = s.t
    s.walk_about(90)
    s.mark("alone_again", at=left + 60)
    check(run(cfg, s), s.truth, s.t0, tol=4)


def test_door_opened_at_night_and_nobody_back(cfg: Config) -> None:
    s = Scene(t0=NIGHT).go_to_bed(60).get_up()
    exit_t = next(t for t, n in s.truth if n == "bed_exit")
    s.leave()
    opened = s.t + 5
    door = [Contact(closed=False, t=opened, sensor="front_door"), Contact(closed=True, t=opened + 20,
                                                                        sensor="front_door")]
    s.hold(40 * 60)  # nobody in the room: no targets at all
    s.mark("door_opened", at=opened).mark("door_closed", at=opened + 20)
    s.mark("wandering", at=s.frames[-1].t - 40 * 60 + 15 * 60 + 5)  # 15 min after the home went empty
    s.mark("went_out", at=s.frames[-1].t - 40 * 60 + 120 + 5)  # out: nobody inside 2 min after the door
    s.mark("out_of_bed_at_night", at=exit_t + 30 * 60)
    got = run(cfg, s, door)
    check(got, s.truth, s.t0, tol=30)
