"""Out and not back (#35), through the real home pipeline: a room radar's frames (the person
leaves its view, comes back) and the front door's contact, as in tests/test_scenarios.py.

Daytime outings within the usual length raise nothing; past it, one `not_back`, resolved by the
return with how long they were out; sooner (and urgent) at night, in the cold and for a resident
at risk of getting lost; a visitor leaving raises nothing; the usual length is learned from the
resident's own outings."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from eldergate.config.loader import load_config
from eldergate.config.schema import Config
from eldergate.drivers.readings import Contact, Reading
from eldergate.gateway.core.alerts import Alert, AlertState
from eldergate.gateway.core.home import Home
from eldergate.signal.model import Event
from eldergate.signal.outings import OutingSettings, OutingWatch
from eldergate.signal.tracks import Scene

from testutil import ROOT

TZ = ZoneInfo("Asia/Shanghai")
MORNING = dt.datetime(2026, 11, 22, 9, 0, tzinfo=TZ).timestamp()
EVENING = dt.datetime(2026, 11, 22, 21, 30, tzinfo=TZ).timestamp()


@pytest.fixture(scope="module")
def cfg() -> Config:
    c = load_config(ROOT / "config" / "demo.toml")
    return c.model_copy(update={"sensors": [s for s in c.sensors if s.id != "bed_radar"]})  # the room radar alone


def at_risk(cfg: Config) -> Config:
    r = cfg.residents[0].model_copy(update={"at_risk_of_getting_lost": True})
    return cfg.model_copy(update={"residents": [r]})


def go_out(s: Scene, out_s: float) -> list[Reading]:
    """Walk about, leave through the front door, stay away ``out_s``, come back through it."""
    s.walk_about(20)
    s.leave()
    opened = s.t + 2
    s.hold(out_s)
    back = s.t
    s.arrive(0)
    s.walk_about(30)
    return [Contact(closed=False, t=opened, sensor="front_door"), Contact(closed=True, t=opened + 10,
                                                                          sensor="front_door"),
            Contact(closed=False, t=back - 5, sensor="front_door"), Contact(closed=True, t=back, sensor="front_door")]


def run(home: Home, scene: Scene, extra: list[Reading]) -> tuple[list[Event], list[Alert]]:
    events: list[Event] = []
    alerts: list[Alert] = []
    for r in sorted([*scene.frames, *extra], key=lambda r: r.t):
        for o in home.process(r):
            if isinstance(o, Event):
                events.append(o)
            elif isinstance(o, Alert):
                alerts.append(o)
    return events, alerts


def named(events: list[Event], *names: str) -> list[Event]:
    return [e for e in events if e.name in names]


def test_a_daytime_outing_within_the_usual_length_raises_nothing(cfg: Config) -> None:
    s = Scene(t0=MORNING, fs=1.0)
    events, alerts = run(Home(cfg, start=s.t0), s, go_out(s, 90 * 60))
    assert [e.name for e in named(events, "went_out", "not_back", "came_back")] == ["went_out", "came_back"]
    assert not [a for a in alerts if a.kind == "not_back"]
    back = named(events, "came_back")[0]
    assert 89 <= float(back.details["out_min"] or 0) <= 92


def test_past_the_usual_length_one_not_back_and_the_return_resolves_it(cfg: Config) -> None:
    s = Scene(t0=MORNING, fs=1.0)
    door = go_out(s, 150 * 60)
    events, alerts = run(Home(cfg, start=s.t0), s, door)
    raised = named(events, "not_back")
    assert len(raised) == 1, "once"
    assert abs(raised[0].t - door[0].t - 2 * 3600) <= 150  # the default usual length, from the door
    mine = [a for a in alerts if a.kind == "not_back"]
    assert [a.state for a in mine] == [AlertState.RAISED, AlertState.RESOLVED]
    assert mine[0].severity == "warning"
    assert 149 <= float(named(events, "came_back")[0].details["out_min"] or 0) <= 152


@pytest.mark.parametrize("why", ["cold", "at_risk"])
def test_sooner_and_urgent_in_the_cold_and_for_a_resident_at_risk(cfg: Config, why: str) -> None:
    s = Scene(t0=MORNING, fs=1.0)
    home = Home(at_risk(cfg) if why == "at_risk" else cfg, start=s.t0)
    if why == "cold":
        home.outdoor_temperature(-3.0)  # the community's (cmd outdoor_temperature)
    door = go_out(s, 75 * 60)
    events, alerts = run(home, s, door)
    raised = named(events, "not_back")
    assert len(raised) == 1 and abs(raised[0].t - door[0].t - 3600) <= 150  # half the usual two hours
    assert raised[0].details["why"] == why
    assert next(a.severity for a in alerts if a.kind == "not_back") == "critical"


def test_sooner_and_urgent_once_night_falls(cfg: Config) -> None:
    s = Scene(t0=EVENING, fs=1.0)  # out at 21:30, an hour: night begins at 22:00
    door = go_out(s, 60 * 60)
    events, alerts = run(Home(cfg, start=s.t0), s, door)
    raised = named(events, "not_back")
    night = dt.datetime(2026, 11, 22, 22, 0, tzinfo=TZ).timestamp()
    assert len(raised) == 1 and night <= raised[0].t <= night + 5, "at nightfall, long past 15 min out"
    assert "night" in str(raised[0].details["why"])
    assert [a.severity for a in alerts if a.kind == "not_back"] == ["critical", "critical"]  # raised, resolved


def test_a_visitor_leaving_raises_nothing(cfg: Config) -> None:
    s = Scene(t0=MORNING, fs=1.0).walk_about(10).arrive(1)
    s.move(0.5, 2.0, who=1).walk_about(60)
    opened = s.t
    s.leave(1)  # the visitor goes; the resident stays and is seen
    s.walk_about(3 * 3600)
    door = [Contact(closed=False, t=opened, sensor="front_door"),
            Contact(closed=True, t=opened + 10, sensor="front_door")]
    events, alerts = run(Home(cfg, start=s.t0), s, door)
    assert not named(events, "went_out", "not_back")
    assert not [a for a in alerts if a.kind == "not_back"]


def test_the_usual_length_is_learned_per_part_of_the_day() -> None:
    w = OutingWatch("r1", OutingSettings())
    day = dt.datetime(2026, 11, 1, 8, 30, tzinfo=TZ).timestamp()
    w.remember([(day + k * 86400, 20 * 60.0) for k in range(6)])  # the morning market: 20 minutes
    assert w.usual_s(MORNING) == 30 * 60  # 20 min x 1.5, the floor
    afternoon = dt.datetime(2026, 11, 22, 15, 0, tzinfo=TZ).timestamp()
    assert w.usual_s(afternoon) == 2 * 3600  # no afternoon outings yet: the default
    w.remember([(day + k * 86400, 10 * 3600.0) for k in range(6)])  # a day at the daughter's
    assert w.usual_s(MORNING) == 4 * 3600  # the ceiling


def test_a_departure_at_night_is_the_night_watchs(cfg: Config) -> None:
    """Out at 23:30: `wandering` (the night watch) after 15 min, not a second alert for the same walk."""
    s = Scene(t0=dt.datetime(2026, 11, 22, 23, 30, tzinfo=TZ).timestamp(), fs=1.0)
    events, _ = run(Home(cfg, start=s.t0), s, go_out(s, 40 * 60))
    assert not named(events, "not_back")
    assert [e.name for e in named(events, "wandering", "returned_home", "came_back")] == \
        ["wandering", "returned_home", "came_back"]
