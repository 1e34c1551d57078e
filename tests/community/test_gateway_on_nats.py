"""A real gateway (`eldergate run`) on a NATS cluster (#19): MQTT 3.1.1, QoS 0 subscriptions, the
cluster's three nodes in its configuration. The node it names first is down before it starts; it
fails over to another, its alert reaches the server (one `serve`, ingest from JetStream) and is
receipted. Then the node it is on is killed as well, and the alert's resolution still arrives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from broker import Mosquitto
from community_path import Injector, outboxes_empty
from community_proc import CommunityServer, community, init_server
from gateway_proc import GatewayProcess, write_config
from nats_cluster import NatsCluster
from testutil import wait_for

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def test_a_real_gateway_fails_over_between_nodes_and_loses_nothing(tmp_path: Path, mosquitto: Mosquitto,
                                                                    cluster: NatsCluster) -> None:
    toml = init_server(tmp_path, "s1")
    folder = toml.parent
    cluster.configure_server(toml)
    cfg = ("--config", str(toml))
    token = community("create-user", "ops", "--role", "platform-operator", "--token", *cfg,
                      cwd=tmp_path).stdout.strip().splitlines()[-1]
    server = CommunityServer(folder / "run", cluster.mqtt_urls[0], extra=cfg)
    home = write_config(tmp_path / "gw1.toml", mosquitto.url, cluster.mqtt_urls[0], tmp_path / "state-gw1")
    home.write_text(home.read_text().replace(
        "[uplink]\n", f'[uplink]\nfallback_urls = {json.dumps(cluster.mqtt_urls[1:])}\nprotocol = "v311"\n'
                      "subscribe_qos = 0\n"))
    gw = GatewayProcess(home, tmp_path / "gw1.log")
    inj: Injector | None = None
    try:
        server.start()
        assert wait_for(lambda: "pulling from JetStream" in server.log.read_text(), 30)
        cluster.kill(0)  # the first node of everyone's list is gone
        gw.start()
        inj = Injector(mosquitto)
        gw.wait_subscribed()
        inj.send("zigbee2mqtt/leak0", True)
        assert wait_for(lambda: server.all_alerts(token) and outboxes_empty(tmp_path, ["gw1"]), 60, 0.5), \
            gw.log.read_text()[-3000:]

        cluster.restart(0)
        on = cluster.node_of("eldergate-s1-gw1")
        assert on in (1, 2)
        cluster.kill(on)  # the node the gateway is on now
        inj.send("zigbee2mqtt/leak0", False)
        assert wait_for(lambda: outboxes_empty(tmp_path, ["gw1"]) and
                        server.all_alerts(token)[0]["state"] == "resolved", 90, 0.5), gw.log.read_text()[-3000:]
        alerts = server.all_alerts(token)
        assert len(alerts) == 1
        states = [h["state"] for h in alerts[0]["history"]]
        assert len(states) == len(set(states)) and {"raised", "received", "resolved"} <= set(states)
    finally:
        if inj is not None:
            inj.close()
        gw.kill()
        server.stop()
