"""City scale on a clustered engine (#19): a 3-node NATS cluster (JetStream R3, MQTT 3.1.1 for the
gateways) and two ingest workers sharing one durable JetStream consumer on one PostgreSQL; a
separate web process serves the wall. A thousand simulated gateways (tests/contract_gateways.py)
raise three alerts each; in the middle of that burst one NATS node and one ingest worker are
killed with SIGKILL. Counted from the outside: every alert the gateways raised is receipted to its
gateway, stored exactly once with each state once, and the wall's event stream is still live."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import pytest

from community_proc import CommunityServer, WallStream, admit_fleet, community, ingest_worker, init_server, register
from contract_gateways import Figures, fleet, percentile, shutdown, until
from nats_cluster import NatsCluster
from pg import Postgres
from testutil import wait_for

pytestmark = [pytest.mark.broker, pytest.mark.slow]
GATEWAYS = 1000
ALERTS_EACH = 3


def test_nats_cluster_two_workers_a_node_and_a_worker_killed_mid_burst(tmp_path: Path, postgres: Postgres,
                                                                       cluster: NatsCluster) -> None:
    db = postgres.create_db("city")
    toml = init_server(tmp_path, "load-00", db)
    admit_fleet(toml)
    folder = toml.parent
    cluster.configure_server(toml)
    cfg = ("--config", str(toml))
    register(toml, "load-00", "gw00000", tmp_path)  # the box whose last alert the wall must show
    checked = community("check-config", str(toml), cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    token = community("create-user", "ops", "--role", "platform-operator", "--token", *cfg,
                      cwd=tmp_path).stdout.strip().splitlines()[-1]
    key = community("wall-url", *cfg, cwd=tmp_path).stdout.strip().rsplit("key=", 1)[1]
    web = CommunityServer(folder / "web", cluster.mqtt_urls[0], extra=(*cfg, "--role", "web"))
    workers: list[subprocess.Popen[bytes]] = []
    logs = [folder / f"ingest{i}.log" for i in range(2)]
    fig = Figures()
    wall: WallStream | None = None
    try:
        web.start()
        workers += [ingest_worker(folder, log, *cfg) for log in logs]
        assert wait_for(lambda: all("pulling from JetStream" in p.read_text() for p in logs), 60, 0.2), \
            "\n".join(p.read_text()[-2000:] for p in logs)
        wall = WallStream(web.port, key)
        assert wall.resp.status == 200

        async def run() -> None:
            gws = fleet(GATEWAYS, cluster.mqtt_urls, fig, vitals_every=10.0, events_every=60.0, subscribe_qos=0)
            tasks = [asyncio.create_task(g.run(start_within=5.0)) for g in gws]
            assert await until(lambda: all(g.connected.is_set() for g in gws), 90), \
                f"{sum(g.connected.is_set() for g in gws)} of {GATEWAYS} gateways connected"
            assert await until(lambda: all(g.subscribed.is_set() for g in gws), 30), \
                f"{sum(g.subscribed.is_set() for g in gws)} of {GATEWAYS} gateways subscribed"
            raised: list[str] = []
            t0 = time.monotonic()
            for round_ in range(ALERTS_EACH):  # three alerts per gateway over about three seconds
                for i, g in enumerate(gws):
                    raised.append(g.raise_alert("fall" if round_ != 1 else "gas", "critical"))
                    if i % 100 == 99:
                        await asyncio.sleep(0.1)
                if round_ == 0:
                    cluster.kill(1)  # SIGKILL: a third of the gateways lose their node mid-burst
                    workers[0].kill()  # and one of the two ingest workers dies with its batch
            assert await until(lambda: len(fig.receipted) == len(raised), 240, 0.5), \
                f"{len(raised) - len(fig.receipted)} of {len(raised)} alerts never receipted"
            print(f"{len(raised)} alerts receipted in {time.monotonic() - t0:.1f} s; receipt p50/p99 "
                  f"{percentile(fig.receipt_latency, 0.5):.2f}/{percentile(fig.receipt_latency, 0.99):.2f} s; "
                  f"{fig.resends} resends, {fig.connects} connections")
            assert set(raised) == fig.receipted
            # the wall still moves: one more alert in its community reaches the open stream
            before = len(wall.changes)
            sos = gws[0].raise_alert("sos", "critical")
            assert await until(lambda: sos in fig.receipted, 30), "the last alert was never receipted"
            assert await until(lambda: len(wall.changes) > before, 15), "the wall's stream went quiet"
            await shutdown(gws, tasks)

        asyncio.run(run())
        alerts = web.all_alerts(token)
        ids = [a["id"] for a in alerts]
        assert len(ids) == len(set(ids)) == GATEWAYS * ALERTS_EACH + 1
        assert set(ids) >= fig.receipted
        for a in alerts:
            states = [h["state"] for h in a["history"]]
            assert len(states) == len(set(states)) and {"raised", "received"} <= set(states)
        assert workers[1].poll() is None
    finally:
        if wall is not None:
            wall.close()
        for p in workers:
            if p.poll() is None:
                p.terminate()
            p.wait(timeout=15)
        web.stop()
