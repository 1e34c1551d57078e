"""The broker's drops are visible: a Mosquitto with a tiny max_queued_messages drops what the server
cannot take of a flood, and the server's health says so (the broker's own counter, read from
$SYS), where before nothing on the server did."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from broker import Mosquitto, online
from community_proc import CommunityServer, community, register
from testutil import wait_for

pytestmark = [pytest.mark.broker]


def _health(base: str) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(f"{base}/api/v1/health", timeout=5) as r:
            return json.loads(r.read())  # type: ignore[no-any-return]
    except urllib.error.HTTPError as err:
        return json.loads(err.read())  # type: ignore[no-any-return]


def test_the_server_reports_what_a_small_broker_queue_dropped(tmp_path: Path) -> None:
    # the server takes 20 in flight at a time (Mosquitto's default) and the broker holds 5 more
    broker = Mosquitto(tmp_path / "broker", defaults=True, extra="max_queued_messages 5\nsys_interval 1\n").start()
    folder = tmp_path / "server"
    assert community("init", str(folder), "--community", "s1", cwd=tmp_path).returncode == 0
    toml = folder / "community.toml"
    register(toml, "s1", "gw1", tmp_path)
    server = CommunityServer(folder, broker.url, extra=("--config", str(toml))).start()
    box = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="flood", protocol=mqtt.MQTTv5)
    try:
        body = _health(server.base)
        assert body["ok"] and body["load"]["broker_dropped"] is not None, body
        online(box, broker.port)
        now = time.time()
        for i in range(3000):  # bounded: a burst of events, as a box's backlog after an outage
            event = {"site": "s1", "gateway": "gw1", "sent_at": now, "t": now - 3000 + i, "name": "bed_exit",
                     "resident": "r1", "room": "bedroom", "sensor": "bed"}
            box.publish("eldergate/v1/s1/gw1/events", json.dumps(event), qos=1)
        assert wait_for(lambda: _health(server.base)["load"]["broker_dropped_since_start"] > 0, 30, 0.5), \
            _health(server.base)
        body = _health(server.base)  # said, for the operator; the server itself still works
        assert body["ok"] and any("broker dropped" in w for w in body["warnings"]), body
        assert "dropped" in server.log.read_text()
    finally:
        box.disconnect()
        box.loop_stop()
        server.stop()
        broker.cleanup()
