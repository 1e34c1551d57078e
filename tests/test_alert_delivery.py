"""The alert's way through the brokers, fault by fault (issue "every alarm reaches a person"):
home-broker messages confirmed only when safe, acknowledgements resent until the gateway
confirms them, prompt resends when the server returns, no thread that dies silently."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Collection, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from test_mqtt_source import home_config

from eldergate.config.loader import parse_config
from eldergate.drivers.readings import Alarm
from eldergate.gateway.core.alerts import Alert, AlertKind, Severity
from eldergate.gateway.core.clock import SystemClock
from eldergate.gateway.core.inbox import Inbox, Processed
from eldergate.gateway.core.supervisor import Supervisor
from eldergate.gateway.delivery.notify import Notifier, apprise_send
from eldergate.gateway.delivery.outbox import Outbox
from eldergate.gateway.links.decode import decoders_for
from eldergate.gateway.links.mqtt_link import ClientSettings
from eldergate.gateway.links.mqtt_source import MqttSource
from eldergate.gateway.runtime import Gateway

from broker import Mosquitto, online
from gateway_proc import GatewayProcess, db_query, write_config
from push_endpoint import PushEndpoint
from reference_receiver import CommunityReceiver
from testutil import wait_for

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def _publisher(broker: Mosquitto, client_id: str = "sensors") -> mqtt.Client:
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    online(pub, broker.port)
    return pub


# -- finding 3: the home broker's message is confirmed only after it is processed ------------------------

def _source(broker: Mosquitto, tmp: Path, out: Inbox, stop: threading.Event) -> MqttSource:
    cfg = parse_config(home_config(broker.url, tmp / "state"))
    decoders = [d for d in decoders_for(cfg).values() if d.sensor.id == "gas"]
    src = MqttSource(ClientSettings(broker.url, "eldergate-gw1-local"), decoders, SystemClock(), out, stop)
    threading.Thread(target=src.run, daemon=True).start()
    assert wait_for(src.connected.is_set)
    return src


def _next_alarm(q: Inbox, timeout: float) -> tuple[Alarm | None, list[object]]:
    end, seen = time.monotonic() + timeout, []
    while time.monotonic() < end:
        try:
            item = q.get(timeout=0.1)
        except queue.Empty:
            continue
        seen.append(item)
        if isinstance(item, Alarm):
            return item, seen
    return None, seen


def test_a_message_the_gateway_died_with_comes_again(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "local", defaults=True).start()
    pub = _publisher(broker)
    try:
        q1: Inbox = queue.Queue()
        stop1 = threading.Event()
        src1 = _source(broker, tmp_path, q1, stop1)
        pub.publish("zigbee2mqtt/kitchen_gas", json.dumps({"gas": True}), qos=1).wait_for_publish(5)
        got, _ = _next_alarm(q1, 10)
        assert got is not None and got.active
        stop1.set()  # the gateway dies before its core loop reached the reading: the queue is gone with it
        assert wait_for(lambda: not src1.connected.is_set())
        q2: Inbox = queue.Queue()
        stop2 = threading.Event()
        src2 = _source(broker, tmp_path, q2, stop2)
        again, seen = _next_alarm(q2, 10)
        assert again is not None and again.active, f"the broker did not deliver it again: {seen}"
        for item in [*seen, *_drain(q2)]:  # now the core loop processes it and confirms it
            if isinstance(item, Processed):
                item.confirm()
        stop2.set()  # a clean stop: the PUBACKs queued by confirm() go out before the DISCONNECT
        assert wait_for(lambda: not src2.connected.is_set())
        q3: Inbox = queue.Queue()
        stop3 = threading.Event()
        _source(broker, tmp_path, q3, stop3)
        # a marker published now: a resumed session's unconfirmed message would come before it
        pub.publish("zigbee2mqtt/kitchen_gas", json.dumps({"gas": False}), qos=1).wait_for_publish(5)
        third, seen = _next_alarm(q3, 10)
        assert third is not None, f"the marker never came: {seen}"
        assert not third.active, "a confirmed message was delivered a third time"
        stop3.set()
    finally:
        pub.loop_stop()
        broker.cleanup()


def _drain(q: Inbox) -> list[object]:
    out = []
    while True:
        try:
            out.append(q.get(timeout=0.5))
        except queue.Empty:
            return out


# -- findings 4 and 5: acknowledgements confirmed; prompt resends when the server is back ----------------

class Site:
    def __init__(self, tmp: Path, resend_after: float) -> None:
        self.local = Mosquitto(tmp / "local").start()
        self.community = Mosquitto(tmp / "community", defaults=True).start()
        self.state = tmp / "state"
        cfg = write_config(tmp / "home.toml", self.local.url, self.community.url, self.state, n_leaks=1,
                           resend_after=resend_after)
        self.gw = GatewayProcess(cfg, tmp / "gateway.log").start()
        self.pub = _publisher(self.local)
        self.rx: CommunityReceiver | None = None

    def receiver(self) -> CommunityReceiver:
        self.rx = CommunityReceiver(ClientSettings(self.community.url, "test-server"))
        self.rx.start()
        assert wait_for(self.rx.connected.is_set, 10)
        return self.rx

    def leak(self, wet: bool) -> None:
        """Repeated, as Zigbee2MQTT repeats state, until the gateway (which may still be starting) stored it."""
        def stored() -> bool:
            rows = db_query(self.state, "SELECT state FROM alerts ORDER BY raised_at")
            return bool(rows) and (rows[-1][0] == "resolved") != wet

        for _ in range(60):
            self.pub.publish("zigbee2mqtt/leak0", json.dumps({"water_leak": wet}), qos=1).wait_for_publish(5)
            if wait_for(stored, 0.5):
                return
        raise AssertionError(f"the gateway never stored the leak\n{self.log()}")

    def outbox(self) -> list[tuple[object, ...]]:
        return db_query(self.state, "SELECT alert_id, state, attempts, next_send FROM outbox")

    def log(self) -> str:
        return self.gw.log.read_text()[-3000:] if self.gw.log.exists() else ""

    def close(self) -> None:
        if self.rx is not None:
            self.rx.stop()
        self.pub.loop_stop()
        self.gw.kill()
        self.local.cleanup()
        self.community.cleanup()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    s = Site(tmp_path, resend_after=30.0)
    yield s
    s.close()


def test_an_acknowledgement_lost_with_the_broker_is_resent_until_the_gateway_confirms_it(site: Site) -> None:
    rx = site.receiver()
    site.leak(True)
    assert wait_for(lambda: rx.alert_ids(), 20), site.log()
    (alert_id,) = rx.alert_ids()
    site.gw.kill()  # the gateway is away when the grid worker answers...
    rx.acknowledge("s1", "gw1", alert_id, "li.ming").wait_for_publish(5)  # the broker holds it (PUBACK)
    site.community.kill()  # ...and the broker holding the answer for it dies unsaved (default autosave)
    site.community.start()
    site.gw.start()
    assert wait_for(lambda: alert_id in rx.confirmed_acks, 30), site.log()
    # the confirmation is the box's acknowledged state: one round trip, no alert message for it
    assert rx.homes[("s1", "gw1")].alerts[alert_id].state == "acknowledged"
    assert rx.ack_resends >= 1 and not rx.pending_acks
    print(f"\nan acknowledgement lost with a SIGKILLed broker: resent {rx.ack_resends} time(s), confirmed")


def test_the_server_coming_back_gets_every_unconfirmed_alert_within_the_spread(site: Site) -> None:
    from eldergate.gateway.delivery.uplink import SERVER_BACK_SPREAD_S

    site.leak(True)  # no server yet: the alert is published to nobody
    assert wait_for(lambda: any(r[2] for r in site.outbox()), 20), site.log()
    # wait until the gateway's own back-off would not resend before the spread is over
    soon = SERVER_BACK_SPREAD_S + 3.0
    assert wait_for(lambda: any(r[3] is not None and float(r[3]) - time.time() > soon for r in site.outbox()), 60)
    rx = site.receiver()
    t0 = time.monotonic()
    assert wait_for(lambda: rx.alert_ids(), SERVER_BACK_SPREAD_S + 2.0), \
        f"not resent when the server announced itself\n{site.log()}"
    print(f"\nserver back online -> alert received in {time.monotonic() - t0:.2f} s "
          f"(spread over {SERVER_BACK_SPREAD_S:g} s; resend_after 30 s)")


def test_after_a_community_broker_restart_pending_alerts_arrive_promptly(site: Site) -> None:
    rx = site.receiver()
    site.community.kill()
    site.leak(True)  # raised while the community broker is down
    assert wait_for(lambda: len(site.outbox()) == 1, 20), site.log()
    site.community.start()
    t0 = time.monotonic()
    assert wait_for(lambda: rx.alert_ids(), 15), site.log()
    print(f"\ncommunity broker SIGKILLed and restarted -> pending alert delivered in {time.monotonic() - t0:.1f} s")


# -- finding 9: no thread dies silently --------------------------------------------------------------------

class BuggyOutbox(Outbox):
    """The receipt handler raises once, as a bug would, inside paho's callback."""

    bugs = 1

    def received(self, alert_id: str, state: str | None, paged: Collection[str] = ()) -> bool:
        if self.bugs:
            self.bugs -= 1
            raise RuntimeError("a bug in the receipt handler")
        return super().received(alert_id, state, paged)


def test_an_exception_in_an_mqtt_callback_does_not_end_the_link(tmp_path: Path) -> None:
    community = Mosquitto(tmp_path / "community").start()
    raw = home_config(community.url, tmp_path / "state")
    raw["uplink"] = {"broker_url": community.url, "resend_after": 2.0, "heartbeat": 2}
    cfg = parse_config(raw)
    store = BuggyOutbox(tmp_path / "state" / "eldergate.db")
    gw = Gateway(cfg, [], store=store, tick_s=0.05, mqtt=False)
    rx = CommunityReceiver(ClientSettings(community.url, "test-server"))
    rx.start()
    gw.start()
    th = threading.Thread(target=gw.run, daemon=True)
    th.start()
    try:
        for i in range(4):
            gw.bus.publish("zigbee2mqtt/kitchen_gas", json.dumps({"gas": i % 2 == 0}).encode())
            time.sleep(0.2)  # pace: the alarm toggles every 0.2 s
        assert wait_for(lambda: len(rx.seen) == 4 and store.unsent_count() == 0, 20), (rx.seen, store.unsent_count())
        assert gw.supervisor.callback_errors == {"uplink.on_message": 1}
        assert gw.stuck() is None
    finally:
        gw.stop()
        th.join(timeout=10)
        rx.stop()
        community.cleanup()


def test_a_push_service_that_raises_does_not_end_the_push_worker() -> None:
    from test_push import config

    endpoint = PushEndpoint()
    calls: list[str] = []

    def send(url: str, title: str, body: str) -> bool:
        calls.append(title)
        if len(calls) == 1:
            raise ValueError("a push library's bug")
        return apprise_send(url, title, body)

    sup = Supervisor(threading.Event())
    n = Notifier(config(endpoint), send, guard=sup.guard)
    try:
        for i in range(2):
            n.on_alert(Alert(f"a{i}", AlertKind.SOS, Severity.CRITICAL, "r1", "bedroom", "sos", 1e9 + i,
                             raised_at=1e9 + i), 1e9 + i)
        n.flush(10)
        assert n.alive() and sup.callback_errors == {"push": 1}
        assert [what for _role, what, _t in n.sent].count("a1") == 2, n.sent  # grid worker and daughter
    finally:
        n.close()
        endpoint.close()


def test_the_watchdog_stops_pinging_when_the_push_worker_is_gone() -> None:
    from test_push import config

    endpoint = PushEndpoint()
    gw = Gateway(config(endpoint), [], tick_s=0.05, mqtt=False)
    try:
        assert gw.stuck() is None
        assert gw.notifier is not None
        gw.notifier.close()  # the worker thread ends, as it would by a bug the guard did not catch
        assert wait_for(lambda: not gw.notifier.alive(), 5)  # type: ignore[union-attr]
        assert gw.stuck() == "the push worker thread ended"
    finally:
        endpoint.close()


def test_escalation_goes_on_after_a_restart(tmp_path: Path) -> None:
    from test_push import config

    endpoint = PushEndpoint()
    cfg = config(endpoint, escalate_after=60.0)
    store = Outbox(tmp_path / "eldergate.db")
    now = time.time()
    store.put_alert(Alert("sos1", AlertKind.SOS, Severity.CRITICAL, "r1", "bedroom", "sos", now - 30,
                          raised_at=now - 30))
    store.close()  # killed after the first wave was told
    gw = Gateway(cfg, [], store=Outbox(tmp_path / "eldergate.db"), tick_s=0.05, mqtt=False)
    try:
        assert gw.notifier is not None
        gw.notifier.tick(now + 61)
        gw.notifier.flush(10)
        assert sorted(endpoint.who()) == ["desk", "volunteer"]  # the next step, not the first wave again
    finally:
        gw.notifier.close() if gw.notifier is not None else None
        endpoint.close()


def test_a_late_timer_after_the_outbox_closed_writes_nothing_and_raises_nothing(tmp_path: Path) -> None:
    """The uplink's "server is back" timer may fire up to a few seconds after the home stopped and
    closed its outbox; it ran into a closed database in a thread of its own (a suite run's
    failure, charged to whichever test was running then)."""
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    outbox.close()
    outbox.all_due()  # no sqlite3.ProgrammingError
