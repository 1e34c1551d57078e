"""Stateless ingest workers that scale out (#19, item 1, on Mosquitto): two `serve --role ingest`
processes share the subscription ($share/, session expiry 0) on one PostgreSQL, a third process
serves the web. One ingest worker is killed with SIGKILL in the middle of an alert burst: every
alert is still stored exactly once (the gateways resend until receipted; unique keys absorb the
copies) and the surviving worker carries on."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from broker import Mosquitto
from community_path import LEAKS, Injector, burst, gateway_process, outboxes_empty, residents_csv
from community_proc import CommunityServer, community, ingest_worker, init_server, share_ingest
from pg import Postgres
from testutil import wait_for

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def test_two_shared_ingest_workers_one_killed_mid_burst(tmp_path: Path, mosquitto: Mosquitto,
                                                        postgres: Postgres) -> None:
    db = postgres.create_db("shared")
    toml = init_server(tmp_path, "s1", db)
    folder = toml.parent
    share_ingest(toml)
    cfg = ("--config", str(toml))
    op = community("create-user", "ops", "--role", "platform-operator", "--token", *cfg, cwd=tmp_path)
    token = op.stdout.strip().splitlines()[-1]
    assert community("create-user", "li", "--role", "grid-worker", "--community", "s1", *cfg,
                     cwd=tmp_path).returncode == 0  # the residents' grid worker in the list
    assert community("import-residents", str(residents_csv(tmp_path / "r.csv")), *cfg, cwd=tmp_path).returncode == 0
    web = CommunityServer(folder / "web", mosquitto.url, extra=(*cfg, "--role", "web")).start()
    procs = [ingest_worker(folder, folder / f"ingest{i}.log", *cfg, "--broker", mosquitto.url) for i in range(2)]
    gateways = {gw: gateway_process(tmp_path, mosquitto, gw) for gw in ("gw1", "gw2")}
    inj = Injector(mosquitto)
    try:
        assert wait_for(lambda: all("ingest subscribed" in (folder / f"ingest{i}.log").read_text() for i in range(2)),
                        30, 0.2)
        for g in gateways.values():
            g.wait_subscribed()
        topics = [f"zigbee2mqtt/{gw}-leak{i}" for gw in gateways for i in range(LEAKS)]

        runner = threading.Thread(target=burst, args=(inj, topics, 4, 0.5))
        runner.start()
        assert wait_for(lambda: web.all_alerts(token), 30, 0.1)
        procs[0].kill()  # SIGKILL, in the middle of the burst: its first alerts are stored
        runner.join(60)
        raised = sum(v.count(True) for v in inj.accepted.values())

        assert wait_for(lambda: outboxes_empty(tmp_path, list(gateways)), 90, 0.5), \
            "the gateways still hold unreceipted alerts"
        alerts = web.all_alerts(token)
        ids = [a["id"] for a in alerts]
        assert len(ids) == len(set(ids)) == raised
        for a in alerts:
            states = [h["state"] for h in a["history"]]
            assert len(states) == len(set(states)) and {"raised", "resolved"} <= set(states)
    finally:
        inj.close()
        for g in gateways.values():
            g.kill()
        for p in procs:
            if p.poll() is None:
                p.terminate()
            p.wait(timeout=15)
        web.stop()
