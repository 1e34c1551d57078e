"""On PostgreSQL the wall's event stream is woken by LISTEN/NOTIFY (the web tier of #19 runs as
several processes fed this way): a change committed by the ingest reaches an open stream well
before the stream's own fallback look (every 5 s), and a web process that is not the ingest
sees it too."""

from __future__ import annotations

import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from broker import Mosquitto, online
from community_proc import CommunityServer, WallStream, community, register
from community_world import alert_payload
from pg import Postgres
from testutil import wait_for

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def test_a_web_process_hears_the_ingests_commit_by_notify(tmp_path: Path, mosquitto: Mosquitto,
                                                          postgres: Postgres) -> None:
    db = postgres.create_db("live")
    folder = tmp_path / "server"
    assert community("init", str(folder), "--community", "kz", "--db", db, cwd=tmp_path).returncode == 0
    cfg = ("--config", str(folder / "community.toml"))
    register(folder / "community.toml", "kz", "gw1", tmp_path)  # its alerts are the community's (not quarantined)
    url = community("wall-url", *cfg, cwd=tmp_path).stdout.strip()
    key = url.rsplit("key=", 1)[1]
    # the ingest and the web are two processes: only the database connects them
    ingest = CommunityServer(folder / "ingest", mosquitto.url, extra=(*cfg, "--role", "all"))
    ingest.start()
    web = CommunityServer(folder / "web", mosquitto.url, extra=(*cfg, "--role", "web")).start()
    wall = WallStream(web.port, key, timeout=30)
    changes = wall.changes
    try:
        assert wall.resp.status == 200 and wall.resp.getheader("Content-Type", "").startswith("text/event-stream")
        assert wait_for(lambda: len(changes) >= 1, 10)  # the first look
        assert wait_for(lambda: "LISTEN/NOTIFY" in web.log.read_text(), 10)
        assert wait_for(ingest.ingesting, 10)  # its subscriptions are in place: the alert below reaches it
        before = len(changes)
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        online(pub, mosquitto.port)
        t0 = time.monotonic()
        pub.publish("eldergate/v1/kz/gw1/alerts", alert_payload("kz", "gw1", "live-1"), qos=1).wait_for_publish(5)
        pub.disconnect()
        pub.loop_stop()
        assert wait_for(lambda: len(changes) > before, 4.5), "no change event before the 5 s fallback"
        print(f"change on a web process's stream {1000 * (changes[before] - t0):.0f} ms after the publish")
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{web.port}/wall/tiles?key={key}", timeout=10) as r:
            assert r.status == 200  # the wall's own queries run on PostgreSQL too
    finally:
        wall.close()
        web.stop()
        ingest.stop()
