"""A fresh fall is never queued behind a city's replay: 1,000 contract-level homes replay the alert
their outbox kept through an outage, all at once, while three other homes raise fresh falls; every
fresh fall is receipted within 2 s (sent -> receipt at the box), and every replayed alert is
receipted too. The server on its embedded SQLite, once on Mosquitto with the shipped broker
settings (deploy/mosquitto-community.conf's delivery section), once on a 3-node NATS cluster
(alerts' own JetStream consumer), where a stream left by a server of before, with its single
catch-all consumer holding an alert, is taken over without losing that alert."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from pathlib import Path

import pytest

from eldergate.contract.messages import GATEWAY_LEAVES

from broker import Mosquitto
from community_proc import CommunityServer, admit_fleet, community
from contract_gateways import Figures, Gateway, brokers_of, fleet, percentile, shutdown, until
from nats_cluster import NatsCluster
from shipped_broker import delivery_settings
from testutil import wait_for

pytestmark = [pytest.mark.broker, pytest.mark.slow]
HOMES = 1000
FRESH_GOAL_S = 2.0


async def _replay_with_fresh_falls(urls: list[str], qos: int = 1) -> tuple[list[float], int, int, float]:
    fig, probe_fig = Figures(), Figures()
    gws = fleet(HOMES, urls, fig, subscribe_qos=qos)
    probes = [Gateway("probe", f"p{i}", brokers_of(urls), probe_fig, random.Random(i), subscribe_qos=qos)
              for i in range(3)]
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
            await asyncio.sleep(0.3)  # pace: three falls every 0.3 s
        drained = time.monotonic() - t0
        assert await until(lambda: all(not p.unreceipted for p in probes), 30, 0.05)
        return list(probe_fig.receipt_latency), fresh, len(fig.receipted), drained
    finally:
        await shutdown([*gws, *probes], tasks)


def _judge(latencies: list[float], fresh: int, replayed: int, drained: float) -> None:
    assert replayed == HOMES, f"{replayed} of {HOMES} replayed alerts receipted"
    assert len(latencies) == fresh > 0
    worst = max(latencies)
    print(f"replay of {HOMES} drained in {drained:.1f} s; {fresh} fresh falls: p50 "
          f"{1000 * percentile(latencies, 0.5):.0f} ms, max {1000 * worst:.0f} ms")
    assert worst < FRESH_GOAL_S, f"a fresh fall waited {worst:.1f} s behind the replay"


def _server_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "server"
    assert community("init", str(folder), "--community", "probe", cwd=tmp_path).returncode == 0
    admit_fleet(folder / "community.toml")
    return folder


def test_fresh_falls_are_receipted_within_2_s_while_1000_homes_replay(tmp_path: Path) -> None:
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    broker = Mosquitto(tmp_path / "broker", defaults=True, extra=delivery_settings()).start()
    folder = _server_folder(tmp_path)
    server = CommunityServer(folder, broker.url, extra=("--config", str(folder / "community.toml"))).start()
    try:
        outcome = asyncio.run(_replay_with_fresh_falls([broker.url]))
    finally:
        server.stop()
        broker.cleanup()
    _judge(*outcome)


async def _stream_of_before(cluster: NatsCluster) -> None:
    """What a server of before left: the stream, its one catch-all consumer, and an alert in it
    that no server has taken yet (published as a box does, over MQTT, at QoS 1)."""
    import nats
    from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StreamConfig

    stream, old_consumer = "ELDERGATE_UP", "eldergate-ingest"  # community/ingest/jetstream.py STREAM, OLD_CONSUMER
    nc = await nats.connect(servers=cluster.nats_urls)
    js = nc.jetstream(timeout=10)
    await js.add_stream(StreamConfig(name=stream, subjects=["eldergate.v1.*.*." + leaf for leaf in GATEWAY_LEAVES],
                                     retention=RetentionPolicy.WORK_QUEUE, num_replicas=3))
    await js.add_consumer(stream, ConsumerConfig(durable_name=old_consumer, ack_policy=AckPolicy.EXPLICIT))
    await nc.close()
    fig = Figures()
    box = Gateway("probe", "left", brokers_of(cluster.mqtt_urls), fig, random.Random(9), subscribe_qos=0)
    box.telemetry = False
    task = asyncio.create_task(box.run())
    try:
        assert await until(box.connected.is_set, 30, 0.05)
        box.raise_alert("fall", raised_ago_s=3600)
        nc = await nats.connect(servers=cluster.nats_urls)
        js = nc.jetstream(timeout=10)

        async def kept() -> bool:
            return bool((await js.stream_info(stream)).state.messages >= 1)

        end = time.monotonic() + 30
        while not await kept():
            assert time.monotonic() < end, "the box's alert never reached the stream"
            await asyncio.sleep(0.1)
        await nc.close()
    finally:
        await shutdown([box], [task])


def test_on_nats_fresh_falls_have_their_own_consumer_and_the_old_one_is_replaced(tmp_path: Path,
                                                                                 cluster: NatsCluster) -> None:
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    asyncio.run(_stream_of_before(cluster))
    folder = _server_folder(tmp_path)
    toml = folder / "community.toml"
    cluster.configure_server(toml)
    server = CommunityServer(folder, cluster.mqtt_urls[0], extra=("--config", str(toml))).start()
    try:
        assert wait_for(lambda: "pulling from JetStream" in server.log.read_text(), 60, 0.1), \
            server.log.read_text()[-2000:]
        token = community("create-user", "ops", "--role", "platform-operator", "--token", "--config", str(toml),
                          cwd=tmp_path).stdout.strip().splitlines()[-1]
        # the alert the old consumer held is stored (quarantined: its box is not in the registry)
        assert wait_for(lambda: any(a["gateway"] == "left" for a in server.all_alerts(token)), 30, 0.2), \
            server.log.read_text()[-2000:]
        outcome = asyncio.run(_replay_with_fresh_falls(cluster.mqtt_urls, qos=0))
    finally:
        server.stop()
    _judge(*outcome)
