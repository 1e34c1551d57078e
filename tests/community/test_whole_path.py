"""The whole path, from the outside: real gateways (`eldergate run`, Zigbee2MQTT water-leak
detectors driven through Mosquitto) → Mosquitto → `eldergate community serve` → SQLite or a real
PostgreSQL cluster, read back through the API.

Ground truth is what the injector published and the broker accepted: every accepted alarm-on is
one alert, raised once; every alarm-off its resolution, once. The server is killed with SIGKILL
in the middle of the burst and started again. Then a grid worker acknowledges an alert through
the API while the broker is down; once the broker is back, the acknowledgement reaches the gateway,
which applies it and confirms it.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from broker import Mosquitto
from community_path import LEAKS, Injector, burst, gateway_process, outboxes_empty, residents_csv
from community_proc import CommunityServer, community
from gateway_proc import db_query
from pg import Postgres
from testutil import wait_for

pytestmark = [pytest.mark.broker, pytest.mark.slow]
ROUNDS = 4


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str | None:
    if request.param == "sqlite":
        return None
    pg: Postgres = request.getfixturevalue("postgres")
    return pg.create_db(f"path_{int(time.time() * 1000) % 10**9}")


def test_every_alert_once_through_a_server_kill_and_an_ack_across_a_broker_restart(
        tmp_path: Path, mosquitto: Mosquitto, db_url: str | None) -> None:
    folder = tmp_path / "server"
    extra = ("--db", db_url) if db_url else ()
    assert community("init", str(folder), "--community", "s1", "--street", "新街", *extra, cwd=tmp_path).returncode == 0
    cfg = ("--config", str(folder / "community.toml"))
    worker = community("create-user", "li", "--role", "grid-worker", "--community", "s1", "--token", *cfg,
                       cwd=tmp_path)
    assert worker.returncode == 0, worker.stderr
    token = worker.stdout.strip().splitlines()[-1]
    op = community("create-user", "ops", "--role", "platform-operator", "--token", *cfg, cwd=tmp_path)
    op_token = op.stdout.strip().splitlines()[-1]
    imported = community("import-residents", str(residents_csv(tmp_path / "residents.csv")), *cfg, cwd=tmp_path)
    assert imported.returncode == 0, imported.stdout + imported.stderr

    server = CommunityServer(folder, mosquitto.url, extra=("--config", str(folder / "community.toml"))).start()
    gateways = {gw: gateway_process(tmp_path, mosquitto, gw) for gw in ("gw1", "gw2")}
    inj = Injector(mosquitto)
    try:
        topics = [f"zigbee2mqtt/{gw}-leak{i}" for gw in gateways for i in range(LEAKS)]
        for g in gateways.values():
            g.wait_subscribed()

        runner = threading.Thread(target=burst, args=(inj, topics, ROUNDS, 0.6))
        runner.start()
        assert wait_for(lambda: server.all_alerts(op_token), 30, 0.1)
        server.kill()  # in the middle of the burst: its first alerts stored, maybe not yet receipted
        time.sleep(1.0)  # fault: the server stays dead for a second while the burst goes on
        server.start()
        runner.join(60)

        assert ("database postgresql://" in server.log.read_text()) == bool(db_url)
        raised = sum(v.count(True) for v in inj.accepted.values())
        resolved = sum(v.count(False) for v in inj.accepted.values())
        assert raised == resolved == ROUNDS * len(topics)

        assert wait_for(lambda: outboxes_empty(tmp_path, list(gateways)), 90, 0.5), \
            "the gateways still hold unreceipted alerts"
        alerts = server.all_alerts(op_token)
        ids = [a["id"] for a in alerts]
        assert len(ids) == len(set(ids)) == raised, f"{len(ids)} alerts for {raised} alarms"
        for a in alerts:
            states = [h["state"] for h in a["history"]]
            assert len(states) == len(set(states)), f"{a['id']}: {states}"
            assert {"raised", "received", "resolved"} <= set(states)
            assert a["community"] == "s1" and a["resident_record"] is not None
        gateway_ids = {row[0] for gw in gateways for row in db_query(tmp_path / f"state-{gw}",
                                                                          "SELECT id FROM alerts")}
        assert gateway_ids == set(ids)

        # an acknowledgement made in the API while the broker is down reaches the gateway afterwards
        inj.send("zigbee2mqtt/gw1-leak0", True)

        def the_new_leak() -> dict[str, Any] | None:  # by what it is: a monthly test alert may be "received" too
            return next((a for a in server.all_alerts(token) if a["id"] not in ids and a["gateway"] == "gw1"
                         and a["kind"] != "test" and a["state"] == "received"), None)

        assert wait_for(the_new_leak, 30, 0.3)
        new = the_new_leak()
        assert new is not None
        # the broker has saved since the gateway took the burst's last "dry" reading: killed before
        # that, it gives the reading again after its restart and it resolves the new leak (a real
        # effect of a broker restored from its last save, not what this test is about)
        stored_at = time.time()
        assert wait_for(lambda: mosquitto.saved_after(stored_at), 10), "the broker never saved its state"
        mosquitto.kill()
        acked = server.api(token, f"/alerts/{new['id']}/acknowledge", "POST")
        assert acked["state"] == "acknowledged" and acked["gateway_confirmed_ack"] is False
        time.sleep(2)  # fault: the broker stays down a while after the acknowledgement
        mosquitto.start()
        assert wait_for(lambda: server.api(token, f"/alerts/{new['id']}")["gateway_confirmed_ack"], 60, 0.5), \
            "the gateway never confirmed the acknowledgement"
        state = db_query(tmp_path / "state-gw1", f"SELECT state FROM alerts WHERE id = '{new['id']}'")
        assert state == [("acknowledged",)], (state, new)
        history = [h["state"] for h in server.api(token, f"/alerts/{new['id']}")["history"]]
        assert history.count("acknowledged") == 1
    finally:
        inj.close()
        for g in gateways.values():
            g.kill()
        server.stop()


def test_a_server_killed_between_commit_and_receipt_loses_and_duplicates_nothing(
        tmp_path: Path, mosquitto: Mosquitto) -> None:
    folder = tmp_path / "server"
    assert community("init", str(folder), cwd=tmp_path).returncode == 0
    op = community("create-user", "ops", "--role", "platform-operator", "--token", "--config",
                   str(folder / "community.toml"), cwd=tmp_path)
    token = op.stdout.strip().splitlines()[-1]
    # it dies by SIGKILL right after committing the 2nd alert message, before receipting it
    server = CommunityServer(folder, mosquitto.url, env={"ELDERGATE_COMMUNITY_FAULT": "kill-before-receipt:2"})
    server.start()
    gw = gateway_process(tmp_path, mosquitto, "gw1")
    inj = Injector(mosquitto)
    try:
        gw.wait_subscribed()
        for i in range(LEAKS):
            inj.send(f"zigbee2mqtt/gw1-leak{i}", True)
        assert server.proc is not None
        assert wait_for(lambda: server.proc is not None and server.proc.poll() is not None, 30), "no fault"
        assert server.proc.returncode == -9
        server.env = {}
        server.start()  # the gateway resends what was not receipted; the server knows it already
        assert wait_for(lambda: db_query(tmp_path / "state-gw1", "SELECT count(*) FROM outbox")[0][0] == 0, 60, 0.5)
        alerts = server.all_alerts(token)
        assert len(alerts) == LEAKS == sum(v.count(True) for v in inj.accepted.values())
        for a in alerts:
            assert [h["state"] for h in a["history"]] == ["raised", "received"]
    finally:
        inj.close()
        gw.kill()
        server.stop()
