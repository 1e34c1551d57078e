"""Push to contacts through Apprise to a local HTTP endpoint: pre-alarm, escalation, acknowledgement."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from eldergate.config.loader import parse_config
from eldergate.config.schema import Config
from eldergate.drivers.readings import ButtonPress, Presence, Reading, Target, TargetHeight, Targets, stamp
from eldergate.gateway.core.alerts import Alert, AlertState
from eldergate.gateway.core.clock import SteppedClock
from eldergate.gateway.core.home import Home
from eldergate.gateway.delivery.notify import Notifier
from eldergate.gateway.delivery.outbox import Outbox
from eldergate.gateway.links.mqtt_link import ClientSettings
from eldergate.gateway.runtime import Gateway

from broker import Mosquitto, online
from push_endpoint import PushEndpoint
from reference_receiver import CommunityReceiver
from testutil import wait_for


@pytest.fixture
def endpoint() -> Iterator[PushEndpoint]:
    e = PushEndpoint()
    yield e
    e.close()


def config(ep: PushEndpoint, escalate_after: float = 300.0, **extra: Any) -> Config:
    contacts = [
        {"name": "grid worker", "role": "grid_worker", "notify": ep.url("grid")},
        {"name": "daughter", "role": "relative", "notify": ep.url("daughter")},
        {"name": "volunteer", "role": "volunteer", "notify": ep.url("volunteer")},
        {"name": "duty desk", "role": "duty_desk", "notify": ep.url("desk")},
    ]
    data: dict[str, Any] = {
        "gateway": {"site": "s1", "id": "gw1", "language": "zh"},
        "residents": [{"id": "r1", "display_name": "王奶奶", "birth_year": 1942, "medical_notes": "心脏病",
                       "contacts": contacts,
                       "thresholds": {"escalate_after": escalate_after, "fall_confirm_after": 45,
                                      "fall_cancel_window": 30}}],
        "rooms": [{"id": "bedroom", "name": "卧室"}],
        "sensors": [{"id": "room_radar", "protocol": "mr60fda2", "role": "room_radar", "room": "bedroom",
                     "serial": {"port": "/dev/null"}},
                    {"id": "sos", "protocol": "zigbee2mqtt", "role": "sos", "room": "bedroom",
                     "mqtt": {"topic": "zigbee2mqtt/sos"}}],
        **extra,
    }
    return parse_config(data)


def fall_track(t0: float, up_at: float | None, end: float) -> list[Reading]:
    out: list[Reading] = []
    t = t0
    while t < end:
        z = 1.0 if t < t0 + 10 else max(0.2, 1.0 - (t - t0 - 10) * 1.5)
        if up_at is not None and t >= up_at:
            z = 1.0
        for r in (Presence(present=True), Targets(targets=(Target(id=1, x=0.3, y=1.0),)), TargetHeight(height_m=z)):
            out.append(stamp(r, t, "room_radar"))
        t += 0.2
    return out


def run_home(cfg: Config, notifier: Notifier, readings: list[Reading]) -> list[Alert]:
    home = Home(cfg, start=readings[0].t)
    alerts = []
    for r in sorted(readings, key=lambda r: r.t):
        for o in home.process(r):
            if isinstance(o, Alert):
                alerts.append(o)
                notifier.on_alert(o, r.t)
        notifier.tick(r.t)
    notifier.flush()
    return alerts


def test_possible_fall_and_getting_up_in_the_window_reaches_nobody(endpoint: PushEndpoint) -> None:
    cfg = config(endpoint)
    n = Notifier(cfg)
    alerts = run_home(cfg, n, fall_track(1000.0, up_at=1025.0, end=1100.0))
    assert alerts == [] and endpoint.received == []


def test_a_single_press_in_the_window_cancels_but_staying_down_reaches_the_grid_worker(
        endpoint: PushEndpoint) -> None:
    cfg = config(endpoint)
    n = Notifier(cfg)
    pressed = [*fall_track(1000.0, None, 1100.0), ButtonPress(action="single", t=1020.0, sensor="sos")]
    assert run_home(cfg, n, pressed) == [] and endpoint.received == []  # "I'm all right"
    alerts = run_home(cfg, Notifier(cfg), fall_track(5000.0, None, 5100.0))
    assert [a.kind for a in alerts] == ["fall"]
    assert wait_for(lambda: sorted(endpoint.who()) == ["daughter", "grid"])
    title = endpoint.received[0][1]["title"]
    body = endpoint.received[0][1]["message"]
    assert "王奶奶" in title and "跌倒" in title and "卧室" in body and "fall" in body
    assert "心脏病" not in title + body  # never medical details




def _alert(state: AlertState = AlertState.RAISED, t: float = 100.0) -> Alert:
    from eldergate.gateway.core.alerts import AlertKind, Severity

    a = Alert("a1", AlertKind.GAS, Severity.CRITICAL, "r1", "bedroom", "gas", 100.0, {}, raised_at=100.0)
    return a if state == AlertState.RAISED else a.advance(state, t, "li")


def test_escalation_after_the_configured_time_and_an_acknowledgement_stops_it(endpoint: PushEndpoint) -> None:
    n = Notifier(config(endpoint, escalate_after=60.0))
    n.on_alert(_alert(), 100.0)
    n.tick(150.0)
    n.flush()
    assert sorted(endpoint.who()) == ["daughter", "grid"]
    n.tick(161.0)  # not acknowledged within 60 s: the next contact and the duty desk
    n.flush()
    assert sorted(endpoint.who()[2:]) == ["desk", "volunteer"]
    assert "升级" in endpoint.received[-1][1]["title"]
    n.on_alert(_alert(AlertState.ACKNOWLEDGED, 170.0), 170.0)
    n.tick(500.0)
    n.flush()
    assert len(endpoint.received) == 5  # no more escalation; only the daughter hears someone is on it
    assert endpoint.who()[-1] == "daughter" and "已有人处理" in endpoint.received[-1][1]["title"]


SERVER = {"uplink": {"broker_url": "mqtt://127.0.0.1:1"}}  # a community server (never reached: only the policy)


def test_with_a_community_server_its_ladder_pages_and_the_box_pages_nobody(endpoint: PushEndpoint) -> None:
    n = Notifier(config(endpoint, escalate_after=60.0, **SERVER))
    a = _alert()
    assert n.pages_at_once(a) == ()
    n.on_alert(a, 100.0)
    assert n.tick(144.0) == []  # handover_after (45 s) not over: the box waits for the server's receipt
    n.on_delivered("a1")  # the server has it: its ladder pages
    assert n.tick(1000.0) == []
    n.on_alert(_alert(AlertState.ACKNOWLEDGED, 1001.0), 1001.0)
    n.flush()
    assert endpoint.who() == []


def test_without_a_receipt_the_box_pages_and_hands_over_when_the_server_has_it(endpoint: PushEndpoint) -> None:
    n = Notifier(config(endpoint, escalate_after=60.0, **SERVER))
    n.on_alert(_alert(), 100.0)
    assert n.tick(144.9) == []
    assert n.tick(145.0) == [("a1", ("grid_worker", "relative"))]  # the server cannot be reached: the box pages
    n.flush()
    assert sorted(endpoint.who()) == ["daughter", "grid"]
    assert n.tick(205.0) == [("a1", ("duty_desk", "volunteer"))]  # and escalates while it still cannot
    n.on_delivered("a1")  # the network is back: the server's ladder goes on after them
    assert n.tick(10_000.0) == []
    n.on_alert(_alert(AlertState.ACKNOWLEDGED, 10_001.0), 10_001.0)
    n.flush()
    assert sorted(endpoint.who()) == ["daughter", "daughter", "desk", "grid", "volunteer"]
    assert "已有人处理" in endpoint.received[-1][1]["title"]  # those the box paged hear a person has it


def test_after_a_restart_paging_goes_on_from_what_the_alert_says_the_box_paged(endpoint: PushEndpoint) -> None:
    n = Notifier(config(endpoint, escalate_after=60.0, **SERVER))
    held = _alert()  # raised, no receipt, nobody paged yet: the uplink gets its window again
    paged = dataclasses.replace(_alert(), id="a2", paged=("grid_worker", "relative"))
    handed = dataclasses.replace(_alert(), id="a3", state=AlertState.DELIVERED)
    n.resume([held, paged, handed], 500.0)
    assert n.tick(544.0) == []
    assert n.tick(545.0) == [("a1", ("grid_worker", "relative"))]  # its first wave, 45 s after the restart
    assert n.tick(559.0) == []
    assert n.tick(560.0) == [("a2", ("duty_desk", "volunteer"))]  # the next step after the stored one
    assert set(n.active) == {"a1", "a2"}  # a3: the server's ladder has it


def test_a_first_ring_box_pages_at_once_and_stops_when_the_server_has_it(endpoint: PushEndpoint) -> None:
    n = Notifier(config(endpoint, escalate_after=60.0, notifications={"box_pages": "first_ring"}, **SERVER))
    a = _alert()
    assert n.pages_at_once(a) == ("grid_worker", "relative")
    n.on_alert(a, 100.0)
    n.on_delivered("a1")
    assert n.tick(1000.0) == []  # the server's ladder escalates, told whom the box paged
    n.flush()
    assert sorted(endpoint.who()) == ["daughter", "grid"]


def test_warnings_and_sensor_health_go_to_the_grid_worker_only(endpoint: PushEndpoint) -> None:
    from eldergate.gateway.core.alerts import AlertKind, Severity

    n = Notifier(config(endpoint))
    n.on_alert(Alert("b1", AlertKind.SENSOR_OFFLINE, Severity.WARNING, "r1", "bedroom", "x", 1.0, raised_at=1.0), 1.0)
    n.on_alert(Alert("b2", AlertKind.OUT_OF_BED_AT_NIGHT, Severity.WARNING, "r1", "", "", 1.0, raised_at=1.0), 1.0)
    n.flush()
    assert endpoint.who() == ["grid", "grid"]


@pytest.mark.broker
def test_end_to_end_the_first_ring_is_paged_at_once_and_hears_the_console_acknowledge(
        endpoint: PushEndpoint, mosquitto: Mosquitto, tmp_path: Path) -> None:
    """A home whose box is the first ring (docs/alert-lifecycle.md, "Who is paged"): it pages its
    first wave at once, tells the server whom (``paged``), pages nobody further once the server has
    the alert, and the relatives it paged hear that a person acknowledged it."""
    cfg = config(endpoint, escalate_after=8.0, uplink={"broker_url": mosquitto.url, "resend_after": 2},
                 local_mqtt={"url": mosquitto.url}, notifications={"box_pages": "first_ring"})
    clock = SteppedClock(time.time())  # time moves only when the test moves it: no race with a slow ack
    gw = Gateway(cfg, [], store=Outbox(tmp_path / "state.db"), tick_s=0.05, clock=clock)
    rx = CommunityReceiver(ClientSettings(mosquitto.url, "console"))
    rx.start()
    gw.start()
    th = threading.Thread(target=gw.run, daemon=True)
    th.start()
    try:
        assert gw.mqtt_source is not None and gw.mqtt_source.connected.wait(10)
        assert gw.uplink is not None and gw.uplink.connected.wait(10)
        pub = online(mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="button", protocol=mqtt.MQTTv5),
                     mosquitto.port)
        pub.publish("zigbee2mqtt/sos", json.dumps({"action": "emergency"}), qos=1).wait_for_publish(5)
        assert wait_for(lambda: any(h.alerts for h in rx.homes.values()))
        home = next(iter(rx.homes.values()))
        sos = next(iter(home.alerts.values()))
        assert sos.kind == "sos" and sos.severity == "critical"
        assert sos.paged == ["grid_worker", "relative"]  # its first message says whom the box paged
        assert wait_for(lambda: sorted(endpoint.who()) == ["daughter", "grid"])
        rx.acknowledge(home.site, home.gateway, sos.id, "li.ming")
        assert wait_for(lambda: gw.store is not None and (a := gw.store.alert(sos.id)) is not None
                    and a.acknowledged_by == "li.ming")
        clock.advance(60.0)  # well past escalate_after (8 s): nobody else is told
        # evidence that the escalation was looked at, past its time: a core-loop turn at a later
        # stepped time starts only after the turn at +60 s (home timers, then the push's) ended
        later = clock.now() + 0.5
        assert wait_for(lambda: (gw.home.last_tick or 0.0) >= clock.now())
        clock.advance(0.5)
        assert wait_for(lambda: (gw.home.last_tick or 0.0) >= later)
        gw.notifier.flush() if gw.notifier is not None else None
        assert sorted(endpoint.who()) == ["daughter", "daughter", "grid"]  # + "someone is on it"
        assert "已有人处理" in endpoint.received[-1][1]["title"]
        pub.disconnect()
        pub.loop_stop()
    finally:
        gw.stop()
        th.join(timeout=10)
        rx.stop()


def test_device_health_names_the_device_and_never_reaches_relatives(endpoint: PushEndpoint) -> None:
    from eldergate.gateway.core.alerts import AlertKind, Severity

    n = Notifier(config(endpoint, escalate_after=60.0))
    n.on_alert(Alert("h1", AlertKind.SENSOR_OFFLINE, Severity.WARNING, "r1", "bedroom", "room_radar", 100.0,
                     raised_at=100.0), 100.0)
    for t in (170.0, 240.0, 310.0):  # nobody acknowledges: escalation runs its whole course
        n.tick(t)
    n.flush()
    assert "daughter" not in endpoint.who() and endpoint.who()[0] == "grid"
    body = endpoint.received[0][1]["message"]
    assert "room_radar" in body and "卧室" in body  # which device, and in which room


def test_the_relatives_who_were_paged_hear_that_someone_acknowledged(endpoint: PushEndpoint) -> None:
    n = Notifier(config(endpoint))
    n.on_alert(_alert(), 100.0)
    n.on_alert(_alert(AlertState.ACKNOWLEDGED, 130.0), 130.0)  # acknowledged by "li"
    n.flush()
    assert sorted(endpoint.who()) == ["daughter", "daughter", "grid"]
    notice = endpoint.received[-1][1]
    assert "已有人处理" in notice["title"] and "li" in notice["message"]


def test_the_morning_summary_says_what_happened_in_the_night(endpoint: PushEndpoint) -> None:
    from eldergate.gateway.core.alerts import AlertKind, Severity
    from eldergate.signal.summary import DailySummary

    n = Notifier(config(endpoint))
    night = 1_795_300_000.0
    a = Alert("w1", AlertKind.WANDERING, Severity.CRITICAL, "r1", "", "", night, raised_at=night)
    n.on_alert(a, night)
    n.on_alert(a.advance(AlertState.RESOLVED, night + 38 * 60), night + 38 * 60)
    s = DailySummary("r1", night - 6 * 3600, night + 6 * 3600, 1, 1, 3, 300.0, 0.0, 62.0, 14.0, 30.0, 0)
    _title, body = n.summary_text(s)
    assert "夜间外出未归" in body and "已解除" in body and "out at night" in body  # the contract's words
    assert "一切正常" not in body and "All is well" not in body
    quiet = DailySummary("r1", night + 86400, night + 2 * 86400, 0, 0, 3, 420.0, 0.0, 62.0, 14.0, 30.0, 0)
    assert "一切正常" in n.summary_text(quiet)[1]


def test_a_push_says_where_the_home_is(endpoint: PushEndpoint) -> None:
    cfg = config(endpoint)
    cfg = cfg.model_copy(update={"gateway": cfg.gateway.model_copy(update={"address": "幸福里 3-2-401"})})
    n = Notifier(cfg)
    n.on_alert(_alert(), 100.0)
    n.flush()
    assert all("幸福里 3-2-401" in body["message"] for _path, body in endpoint.received)


def test_the_boxs_older_language_code_is_read_as_the_servers(endpoint: PushEndpoint) -> None:
    """One language code for both halves (#36): "zh-hans", as the community server says it; a
    configuration written with the box's older "zh" still starts, meaning the same."""
    assert config(endpoint).gateway.language == "zh-hans"  # written "zh" above
    english = config(endpoint)
    english = english.model_copy(update={"gateway": english.gateway.model_copy(update={"language": "en"})})
    title, _body = Notifier(english).alert_text(_alert())
    assert title.startswith("[CRITICAL]")
