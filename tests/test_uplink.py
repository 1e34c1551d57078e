"""Alerts that are never lost: a real gateway process, a real home broker and community broker,
and the reference receiver confirming receipts."""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from eldergate.gateway.links.mqtt_link import ClientSettings

import testutil
from broker import Mosquitto, online
from gateway_proc import GatewayProcess, db_query, write_config
from reference_receiver import CommunityReceiver

wait_for = functools.partial(testutil.wait_for, timeout=30.0)  # this file's slower peers
pytestmark = [pytest.mark.broker, pytest.mark.slow]
N_LEAKS = 5


class Home:
    def __init__(self, tmp: Path) -> None:
        self.local = Mosquitto(tmp / "local").start()
        self.community = Mosquitto(tmp / "community").start()
        self.state = tmp / "state"
        self.config = write_config(tmp / "home.toml", self.local.url, self.community.url, self.state,
                                   n_leaks=N_LEAKS)
        self.gw = GatewayProcess(self.config, tmp / "gateway.log").start()
        self.rx = CommunityReceiver(ClientSettings(self.community.url, "test-receiver"))
        self.rx.start()
        self.pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="sensors", protocol=mqtt.MQTTv5)
        online(self.pub, self.local.port)
        self.toggles = 0
        assert wait_for(lambda: any(h.status == "online" for h in self.rx.homes.values())), self.log()

    def toggle(self) -> None:
        """A leak sensor alternates wet and dry: each wet is a new alert, each dry resolves it."""
        i = self.toggles
        body = json.dumps({"water_leak": (i // N_LEAKS) % 2 == 0, "battery": 90})
        self.pub.publish(f"zigbee2mqtt/leak{i % N_LEAKS}", body, qos=1).wait_for_publish(5)
        self.toggles += 1

    def raised_ids(self) -> set[str]:
        return {r[0] for r in db_query(self.state, "SELECT id FROM alerts")}

    def outbox_size(self) -> int:
        rows = db_query(self.state, "SELECT count(*) FROM outbox")
        return int(rows[0][0]) if rows else -1

    def all_delivered(self) -> bool:
        ids = self.raised_ids()
        return bool(ids) and ids <= self.rx.alert_ids() and self.outbox_size() == 0

    def log(self) -> str:
        return (self.gw.log.read_text() if self.gw.log.exists() else "")[-3000:]

    def close(self) -> None:
        self.pub.loop_stop()
        self.pub.disconnect()
        self.rx.stop()
        self.gw.kill()
        self.local.cleanup()
        self.community.cleanup()


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Home]:
    h = Home(tmp_path)
    yield h
    h.close()


def _exactly_once(rx: CommunityReceiver) -> None:
    per_id: dict[str, list[str]] = {}
    for aid, state in rx.seen:
        per_id.setdefault(aid, []).append(state)
    for aid, states in per_id.items():
        assert len(states) == len(set(states)), aid


def test_burst_while_the_community_broker_is_stopped_then_killed(home: Home) -> None:
    print("\ntried: 20 alert changes while the community broker is stopped for 30 s")
    home.community.stop()
    for _ in range(20):
        home.toggle()
    assert wait_for(lambda: home.outbox_size() >= 20), home.log()
    held = home.outbox_size()
    assert wait_for(lambda: "community uplink lost" in home.log()), home.log()  # the gateway knows it is cut off
    time.sleep(30)  # fault: the outage lasts, its reconnection attempts backing off meanwhile
    assert home.outbox_size() == held  # nothing left the outbox while nobody could confirm it
    home.community.start()
    assert wait_for(home.all_delivered, timeout=60), home.log()
    print(f"survived: {len(home.raised_ids())} alerts, each at the receiver; outbox empty after the receipts")

    print("tried: 20 more while the community broker is killed with SIGKILL")
    home.community.kill()
    for _ in range(20):
        home.toggle()
    assert wait_for(lambda: home.outbox_size() >= 20), home.log()
    time.sleep(3)  # fault: the broker stays dead a while
    home.community.start()
    assert wait_for(home.all_delivered, timeout=60), home.log()
    _exactly_once(home.rx)
    assert len(home.raised_ids()) == 20  # 40 toggles: 20 wet (a new alert each), 20 dry (resolved)
    states = {s for _aid, s in home.rx.seen}
    assert states == {"raised", "resolved"}
    print(f"survived: {len(home.raised_ids())} alerts, {len(home.rx.seen)} alert messages, "
          f"{home.rx.duplicates} duplicate resends dropped by the receiver")


def test_gateway_killed_mid_burst_loses_no_alert(home: Home) -> None:
    stop = threading.Event()

    def burst() -> None:
        while not stop.is_set():
            home.toggle()
            time.sleep(0.02)

    th = threading.Thread(target=burst, daemon=True)
    th.start()
    kills = 0
    try:
        for _ in range(3):
            time.sleep(1.0)  # pace: a kill a second, mid-burst
            home.gw.kill()
            kills += 1
            home.gw.start()
            assert wait_for(lambda: home.gw.proc is not None and home.gw.proc.poll() is None)
    finally:
        stop.set()
        th.join(timeout=5)
    assert wait_for(home.all_delivered, timeout=60), home.log()
    _exactly_once(home.rx)
    print(f"\ntried: {kills} SIGKILLs during {home.toggles} sensor messages; "
          f"survived: all {len(home.raised_ids())} stored alerts reached the receiver")
