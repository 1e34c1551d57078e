"""A paho client for the community's broker, MQTT v5 or 3.1.1 (a NATS cluster's MQTT side), that
moves on to the cluster's next node when the one it used cannot be reached. The client, its
CONNECT properties and the fail-over are the box's too (contract/broker_client.py)."""

from __future__ import annotations

from typing import Any

import paho.mqtt.client as mqtt

from eldergate.community.config import Broker
from eldergate.contract import broker_client
from eldergate.contract.broker_client import BrokerAddress, parse_url


def make_client(b: Broker, client_id: str, persistent: bool,
                manual_ack: bool = False) -> tuple[mqtt.Client, list[BrokerAddress]]:
    """The client (v5 with a session expiry, or 3.1.1 with clean_session) and the nodes to try."""
    nodes = [parse_url(url) for url in b.mqtt_urls()]
    creds = broker_client.read_credentials(b.credentials_file) if b.credentials_file is not None else None
    client = broker_client.new_client(client_id, v5=b.protocol == "v5", persistent=persistent,
                                      tls=parse_url(b.url).tls, manual_ack=manual_ack, credentials=creds,
                                      ca_file=b.ca_file, cert_file=b.cert_file, key_file=b.key_file)
    # the server's few connections come back first after a broker restart: a fresh fall waits for
    # them (paho doubles its wait per failure, and during a reconnect storm of 10,000 boxes the
    # first tries fail; with 1..30 s a fall raised then waited up to 16 s, bench/community_load.py)
    client.reconnect_delay_set(1, 2)
    return client, nodes


def connect_kwargs(b: Broker, persistent: bool) -> dict[str, Any]:
    return broker_client.connect_kwargs(b.protocol == "v5", 86400 if persistent else 0)


fail_over = broker_client.fail_over
