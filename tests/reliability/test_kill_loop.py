"""The gateway killed with SIGKILL again and again while alerts are raised: none is lost."""

from __future__ import annotations

import json
import os
import random
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from eldergate.gateway.links.mqtt_link import ClientSettings

from broker import Mosquitto, online
from gateway_proc import GatewayProcess, db_query, write_config
from reference_receiver import CommunityReceiver

pytestmark = [pytest.mark.broker, pytest.mark.slow]
KILLS = int(os.environ.get("ELDERGATE_KILLS", "100"))


def wait_for(pred: object, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_no_alert_lost_over_100_sigkills(tmp_path: Path) -> None:
    local, community = Mosquitto(tmp_path / "local").start(), Mosquitto(tmp_path / "community").start()
    state = tmp_path / "state"
    cfg = write_config(tmp_path / "home.toml", local.url, community.url, state, n_leaks=4, resend_after=1.0)
    gw = GatewayProcess(cfg, tmp_path / "gateway.log").start()
    rx = CommunityReceiver(ClientSettings(community.url, "rx"))
    rx.start()
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="sensors", protocol=mqtt.MQTTv5)
    online(pub, local.port)
    stop = threading.Event()
    sent = [0]

    def sensors() -> None:  # leak sensors going wet and dry all along
        while not stop.is_set():
            i = sent[0]
            pub.publish(f"zigbee2mqtt/leak{i % 4}", json.dumps({"water_leak": (i // 4) % 2 == 0}), qos=1)
            sent[0] += 1
            time.sleep(0.03)

    th = threading.Thread(target=sensors, daemon=True)
    th.start()
    rng = random.Random(7)
    t0 = time.monotonic()
    try:
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.2, 1.2))  # fault: killed at any point: starting, raising, sending
            gw.kill()
            gw.start()
        time.sleep(2.0)  # pace: the load goes on after the last kill
        stop.set()
        th.join(timeout=5)

        def delivered() -> bool:
            ids = {r[0] for r in db_query(state, "SELECT id FROM alerts")}
            unsent = db_query(state, "SELECT count(*) FROM outbox")
            return bool(ids) and ids <= rx.alert_ids() and bool(unsent) and unsent[0][0] == 0

        assert wait_for(delivered, timeout=90), gw.log.read_text()[-3000:]
        ids = {r[0] for r in db_query(state, "SELECT id FROM alerts")}
        print(f"\ntried: {KILLS} SIGKILLs in {time.monotonic() - t0:.0f} s while {sent[0]} sensor messages "
              f"raised and resolved alerts; survived: all {len(ids)} stored alerts at the receiver, "
              f"{rx.duplicates} duplicate resends dropped there, outbox empty")
    finally:
        stop.set()
        pub.loop_stop()
        rx.stop()
        assert gw.stop() in (0, -9)
        local.cleanup()
        community.cleanup()
