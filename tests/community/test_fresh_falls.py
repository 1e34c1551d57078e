"""A fresh fall is never queued behind a city's replay: 1,000 contract-level homes replay the alert
their outbox kept through an outage, all at once, while three other homes raise fresh falls; every
fresh fall is receipted within 2 s (sent -> receipt at the box), and every replayed alert is
receipted too. On the shipped broker settings (deploy/mosquitto-community.conf's delivery
section), the server on its embedded SQLite."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from pathlib import Path

import pytest

from broker import Mosquitto
from community_proc import CommunityServer, admit_fleet, community
from contract_gateways import Figures, Gateway, brokers_of, fleet, percentile, shutdown, until
from shipped_broker import delivery_settings

pytestmark = [pytest.mark.broker, pytest.mark.slow]
HOMES = 1000
FRESH_GOAL_S = 2.0


async def _replay_with_fresh_falls(url: str) -> tuple[list[float], int, int, float]:
    fig, probe_fig = Figures(), Figures()
    gws = fleet(HOMES, [url], fig)
    probes = [Gateway("probe", f"p{i}", brokers_of([url]), probe_fig, random.Random(i)) for i in range(3)]
    for p in probes:
        p.telemetry = False
    tasks = [asyncio.create_task(g.run(start_within=5.0)) for g in [*gws, *probes]]
    try:
        assert await until(lambda: all(g.connected.is_set() for g in [*gws, *probes]), 120, 0.2), \
            f"{sum(g.connected.is_set() for g in gws)} of {HOMES} connected"
        # settled: the connection storm's backlog is drained once a probe's fall comes back quickly
        end = time.monotonic() + 90
        while time.monotonic() < end:
            probes[0].raise_alert("fall")
            if await until(lambda: not probes[0].unreceipted, 1.0, 0.02):
                break
            await until(lambda: not probes[0].unreceipted, 10.0, 0.1)
        probe_fig.receipt_latency.clear()
        t0 = time.monotonic()
        for g in gws:  # the outage is over: every outbox sends what it kept, raised 10 minutes ago
            g.raise_alert("fall", raised_ago_s=600)
        fresh = 0
        while fig.alerts_raised > len(fig.receipted) and time.monotonic() - t0 < 120:
            for p in probes:  # meanwhile, falls happen now
                p.raise_alert("fall")
                fresh += 1
            await asyncio.sleep(0.3)
        drained = time.monotonic() - t0
        assert await until(lambda: all(not p.unreceipted for p in probes), 30, 0.05)
        return list(probe_fig.receipt_latency), fresh, len(fig.receipted), drained
    finally:
        await shutdown([*gws, *probes], tasks)


def test_fresh_falls_are_receipted_within_2_s_while_1000_homes_replay(tmp_path: Path) -> None:
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    broker = Mosquitto(tmp_path / "broker", defaults=True, extra=delivery_settings()).start()
    folder = tmp_path / "server"
    assert community("init", str(folder), "--community", "probe", cwd=tmp_path).returncode == 0
    toml = folder / "community.toml"
    admit_fleet(toml)
    server = CommunityServer(folder, broker.url, extra=("--config", str(toml))).start()
    try:
        latencies, fresh, replayed, drained = asyncio.run(_replay_with_fresh_falls(broker.url))
    finally:
        server.stop()
        broker.cleanup()
    assert replayed == HOMES, f"{replayed} of {HOMES} replayed alerts receipted"
    assert len(latencies) == fresh > 0
    worst = max(latencies)
    print(f"replay of {HOMES} drained in {drained:.1f} s; {fresh} fresh falls: p50 "
          f"{1000 * percentile(latencies, 0.5):.0f} ms, max {1000 * worst:.0f} ms")
    assert worst < FRESH_GOAL_S, f"a fresh fall waited {worst:.1f} s behind the replay"
