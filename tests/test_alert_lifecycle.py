"""Alert lifecycles across restarts (docs/alert-lifecycle.md): the same Home and Outbox the live
gateway uses, "restarted" by building new ones over the same database, as a SIGKILL would leave it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from eldergate.config.loader import load_config
from eldergate.config.schema import Config
from eldergate.drivers.readings import Alarm, Battery, ButtonPress, Pulse, Reading, Tamper, Target, Targets
from eldergate.gateway.core.alerts import Alert, AlertKind, AlertState
from eldergate.gateway.core.home import Home
from eldergate.gateway.delivery.outbox import Outbox
from eldergate.signal.model import Event, EventName

T0 = dt.datetime(2026, 11, 22, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()

CONFIG = """
[gateway]
site = "s1"
id = "gw1"
state_dir = "{state}"
[[residents]]
id = "r1"
display_name = "a"
birth_year = 1940
  [residents.thresholds]
  long_lie_after = "2min"
[[residents]]
id = "r2"
display_name = "b"
birth_year = 1942
  [residents.thresholds]
  long_lie_after = "2min"
[[rooms]]
id = "kitchen"
name = "k"
[[rooms]]
id = "living"
name = "l"
[[sensors]]
id = "gas1"
protocol = "zigbee2mqtt"
role = "gas"
room = "kitchen"
mqtt = {{ topic = "zigbee2mqtt/gas1" }}
[[sensors]]
id = "gas2"
protocol = "zigbee2mqtt"
role = "gas"
room = "kitchen"
mqtt = {{ topic = "zigbee2mqtt/gas2" }}
[[sensors]]
id = "leak"
protocol = "zigbee2mqtt"
role = "water_leak"
room = "kitchen"
mqtt = {{ topic = "zigbee2mqtt/leak" }}
[[sensors]]
id = "sos"
protocol = "zigbee2mqtt"
role = "sos"
room = "living"
mqtt = {{ topic = "zigbee2mqtt/sos" }}
[[sensors]]
id = "smoke433"
protocol = "rtl433"
role = "smoke"
room = "kitchen"
mqtt = {{ topic = "rtl_433/events", model = "Generic-Smoke", device_id = "1" }}
[[sensors]]
id = "radar1"
protocol = "ti-mmwave"
role = "room_radar"
room = "living"
serial = {{ port = "/dev/null" }}
[[sensors]]
id = "radar2"
protocol = "ti-mmwave"
role = "room_radar"
room = "living"
resident = "r2"
serial = {{ port = "/dev/null" }}
"""


@pytest.fixture
def cfg(tmp_path: Path) -> Config:
    path = tmp_path / "home.toml"
    path.write_text(CONFIG.format(state=tmp_path / "state"))
    return load_config(path)


class Box:
    """What ``eldergate run`` does with each reading, without threads: process, store every alert."""

    def __init__(self, cfg: Config, t: float) -> None:
        self.store = Outbox(cfg.gateway.state_dir / "eldergate.db")
        self.home = Home(cfg, start=t)
        self.home.resume(self.store.open_alerts(), t)
        self.alerts: list[Alert] = []
        self.events: list[Event] = []

    def feed(self, r: Reading) -> list[Alert]:
        return self._keep(self.home.process(r))

    def tick(self, t: float) -> list[Alert]:
        return self._keep(self.home.tick(t))

    def ack(self, alert_id: str, t: float) -> Alert:
        acked = self.home.alerts.acknowledge(alert_id, "li", t)
        assert acked is not None
        self.store.put_alert(acked)
        return acked

    def _keep(self, out: list[object]) -> list[Alert]:
        new = [o for o in out if isinstance(o, Alert)]
        for a in new:
            self.store.put_alert(a)
        self.alerts += new
        self.events += [o for o in out if isinstance(o, Event)]
        return new

    def kill(self) -> None:
        self.store.close()


def states(alerts: list[Alert]) -> list[tuple[str, str]]:
    return [(str(a.kind), str(a.state)) for a in alerts]


@pytest.mark.parametrize(("on", "off", "kind"), [
    (Alarm(alarm="gas", active=True, sensor="gas1"), Alarm(alarm="gas", active=False, sensor="gas1"), "gas"),
    (Alarm(alarm="water_leak", active=True, sensor="leak"), Alarm(alarm="water_leak", active=False, sensor="leak"),
     "water_leak"),
    (Battery(percent=5, low=True, sensor="leak"), Battery(percent=90, low=False, sensor="leak"), "low_battery"),
    (Tamper(tampered=True, sensor="leak"), Tamper(tampered=False, sensor="leak"), "tamper"),
])
def test_alarm_off_after_a_restart_resolves_and_the_next_alarm_is_new(cfg: Config, on: Reading, off: Reading,
                                                                      kind: str) -> None:
    box = Box(cfg, T0)
    raised = box.feed(_at(on, T0 + 1))
    assert states(raised) == [(kind, "raised")]
    box.ack(raised[0].id, T0 + 2)  # acknowledged, still sounding
    box.kill()
    box = Box(cfg, T0 + 3)  # restarted between the alarm and its end
    assert states(box.feed(_at(off, T0 + 4))) == [(kind, "resolved")]
    again = box.feed(_at(on, T0 + 5))  # a new alarm: a new alert, not a "duplicate" of a stuck one
    assert states(again) == [(kind, "raised")] and again[0].id != raised[0].id


def test_a_repeat_of_the_alarm_after_a_restart_is_not_a_second_alert(cfg: Config) -> None:
    box = Box(cfg, T0)
    box.feed(Alarm(alarm="gas", active=True, sensor="gas1", t=T0))
    box.kill()
    box = Box(cfg, T0 + 1)  # Zigbee2MQTT repeats the cached state; the broker redelivers an unconfirmed message
    assert box.feed(Alarm(alarm="gas", active=True, sensor="gas1", t=T0 + 2)) == []


def test_a_second_sos_after_an_acknowledged_one_and_a_restart_is_a_new_alert(cfg: Config) -> None:
    box = Box(cfg, T0)
    first = box.feed(ButtonPress(action="emergency", sensor="sos", t=T0))
    assert states(first) == [("sos", "raised")]
    box.ack(first[0].id, T0 + 60)
    box.kill()
    box = Box(cfg, T0 + 100)
    second = box.feed(ButtonPress(action="emergency", sensor="sos", t=T0 + 200))
    assert states(second) == [("sos", "raised")] and second[0].id != first[0].id


def test_an_unanswered_sos_still_absorbs_repeated_presses_after_a_restart(cfg: Config) -> None:
    box = Box(cfg, T0)
    box.feed(ButtonPress(action="emergency", sensor="sos", t=T0))
    box.kill()
    box = Box(cfg, T0 + 10)
    assert box.feed(ButtonPress(action="emergency", sensor="sos", t=T0 + 20)) == []  # the open one is still paging


def test_a_pulse_alarm_open_at_a_restart_ends_when_it_goes_quiet(cfg: Config) -> None:
    box = Box(cfg, T0)
    assert states(box.feed(Pulse(what="smoke", sensor="smoke433", t=T0))) == [("smoke", "raised")]
    box.kill()
    box = Box(cfg, T0 + 10)
    assert box.feed(Pulse(what="smoke", sensor="smoke433", t=T0 + 20)) == []  # still sounding
    smoke = [("smoke", "raised"), ("smoke", "resolved")]
    assert [k for k in states(box.tick(T0 + 200)) if k in smoke] == []
    assert [k for k in states(box.tick(T0 + 20 + 301)) if k in smoke] == [("smoke", "resolved")]


def test_two_gas_detectors_one_alert_until_the_last_one_clears(cfg: Config) -> None:
    box = Box(cfg, T0)
    assert states(box.feed(Alarm(alarm="gas", active=True, sensor="gas1", t=T0))) == [("gas", "raised")]
    assert box.feed(Alarm(alarm="gas", active=True, sensor="gas2", t=T0 + 1)) == []
    assert box.feed(Alarm(alarm="gas", active=False, sensor="gas1", t=T0 + 2)) == []  # gas2 still sounds
    assert states(box.feed(Alarm(alarm="gas", active=False, sensor="gas2", t=T0 + 3))) == [("gas", "resolved")]


def test_a_fall_open_at_a_restart_resolves_when_the_person_is_seen_up(cfg: Config) -> None:
    box = Box(cfg, T0)
    t = T0
    for i in range(20):  # standing, then a fast drop to the floor, then 60 s down
        z = 1.0 if i < 10 else 0.2
        box.feed(_targets("radar1", t, z))
        t += 0.1
    for _ in range(60):
        t += 1.0
        box.feed(_targets("radar1", t, 0.2))
    assert ("fall", "raised") in states(box.alerts)
    box.kill()
    box = Box(cfg, t + 5)
    t += 10
    for _ in range(40):  # up again: the median height back above 3/4 of standing for 2 s
        t += 0.1
        box.feed(_targets("radar1", t, 1.0))
    assert ("fall", "resolved") in states(box.alerts)


def test_every_resident_is_watched_for_a_long_lie(cfg: Config) -> None:
    """Two residents: the second one's still body outside the bed raises a long lie too."""
    box = Box(cfg, T0)
    t = T0
    for _ in range(200):
        t += 1.0
        box.feed(_targets("radar1", t, 1.0, moving=True))  # r1 walks about
        box.feed(_targets("radar2", t, 0.3))  # r2 lies still on the floor
        box.tick(t)
    long_lies = [e for e in box.events if e.name == EventName.LONG_LIE]
    assert [e.resident for e in long_lies] == ["r2"]
    # lying still on the floor is also a fall since the floor rule (#30): both are r2's, none r1's
    assert sorted((str(a.kind), a.resident) for a in box.alerts) == [("fall", "r2"), ("long_lie", "r2")]


def test_a_damaged_database_is_moved_aside_and_replaced(tmp_path: Path) -> None:
    db = tmp_path / "eldergate.db"
    ob = Outbox(db)
    ob.put_alert(Alert("a1", AlertKind.GAS, _sev(), "r1", "kitchen", "gas1", T0, raised_at=T0))
    ob.close()
    db.write_bytes(b"this is not a database" + db.read_bytes()[22:])  # a damaged header
    again = Outbox(db)  # no crash loop: a new database
    aside = again.take_recovered()
    assert len(aside) == 1 and (tmp_path / aside[0]).exists()
    again.put_alert(Alert("a2", AlertKind.GAS, _sev(), "r1", "kitchen", "gas1", T0, raised_at=T0))
    assert [p.alert.id for p in again.pending_alerts()] == ["a2"]


def test_an_acknowledgement_is_stored_but_never_sent_back(tmp_path: Path) -> None:
    """The server gave the box its acknowledged state; the box confirms it on ``acked`` alone
    (docs/contract.md, "Acknowledgements"): one round trip, not an alert message and its receipt."""
    ob = Outbox(tmp_path / "eldergate.db")
    raised = Alert("a1", AlertKind.SOS, _sev(), "r1", "hall", "sos1", T0, raised_at=T0)
    ob.put_alert(raised)
    assert ob.received("a1", "raised")
    ob.put_alert(raised.advance(AlertState.ACKNOWLEDGED, T0 + 5, "li.ming"))
    stored = ob.alert("a1")
    assert stored is not None and stored.state == AlertState.ACKNOWLEDGED and stored.acknowledged_by == "li.ming"
    assert ob.pending_alerts() == [] and ob.unsent_count() == 0
    ob.put_alert(stored.advance(AlertState.RESOLVED, T0 + 9))  # what the box learns itself still travels
    assert [(p.alert.id, p.alert.state) for p in ob.pending_alerts()] == [("a1", AlertState.RESOLVED)]


def test_damage_while_running_loses_no_alert(tmp_path: Path) -> None:
    db = tmp_path / "eldergate.db"
    ob = Outbox(db)
    for i in range(50):  # enough pages that the damage is on pages SQLite must read again
        ob.put_alert(Alert(f"a{i}", AlertKind.GAS, _sev(), "r1", "kitchen", "gas1", T0, {"pad": "x" * 500},
                           raised_at=T0 + i))
    ob._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with db.open("r+b") as fh:  # garbage over everything but the header page, under the open connection
        fh.seek(4096)
        fh.write(b"\xa5" * (db.stat().st_size - 4096))
    ob._db.execute("PRAGMA cache_size = 0")
    ob.put_alert(Alert("new", AlertKind.GAS, _sev(), "r1", "kitchen", "gas1", T0, raised_at=T0 + 99))
    pending = {p.alert.id for p in ob.pending_alerts()}
    assert "new" in pending  # stored in a new database, or held in memory: never dropped
    assert ob.take_recovered(), "the damage was noticed and the file moved aside"


def _sev() -> object:
    from eldergate.gateway.core.alerts import Severity
    return Severity.CRITICAL


def _at(r: Reading, t: float) -> Reading:
    import dataclasses
    return dataclasses.replace(r, t=t)


def _targets(sensor: str, t: float, z: float, moving: bool = False) -> Targets:
    v = 0.5 if moving else 0.0
    return Targets(targets=(Target(1, 1.5, 2.0, z, v, 0.0, 0.0),), t=t, sensor=sensor)


def test_the_rule_is_written_down() -> None:
    from testutil import ROOT
    text = (ROOT / "docs" / "alert-lifecycle.md").read_text()
    for kind in AlertKind:
        assert f"`{kind}`" in text, f"docs/alert-lifecycle.md says nothing of {kind}"
    assert AlertState.ACKNOWLEDGED in text
