"""A paho client for the community's broker, MQTT v5 or 3.1.1 (a NATS cluster's MQTT side), that
moves on to the cluster's next node when the one it used cannot be reached."""

from __future__ import annotations

import ssl
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from eldergate.community.config import Broker


def make_client(b: Broker, client_id: str, persistent: bool,
                manual_ack: bool = False) -> tuple[mqtt.Client, list[tuple[str, int]]]:
    """The client (v5 with a session expiry, or 3.1.1 with clean_session) and the nodes to try."""
    v5 = b.protocol == "v5"
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
                         clean_session=None if v5 else not persistent,
                         reconnect_on_failure=True, manual_ack=manual_ack)
    if b.credentials_file is not None:
        user, password = b.credentials_file.read_text().splitlines()[:2]
        client.username_pw_set(user.strip(), password.strip())
    if urlsplit(b.url).scheme == "mqtts":
        ctx = ssl.create_default_context(cafile=str(b.ca_file) if b.ca_file else None)
        if b.cert_file is not None and b.key_file is not None:
            ctx.load_cert_chain(str(b.cert_file), str(b.key_file))
        client.tls_set_context(ctx)
    # the server's few connections come back first after a broker restart: a fresh fall waits for
    # them (paho doubles its wait per failure, and during a reconnect storm of 10,000 boxes the
    # first tries fail; with 1..30 s a fall raised then waited up to 16 s, bench/community_load.py)
    client.reconnect_delay_set(1, 2)
    nodes = []
    for url in b.mqtt_urls():
        parts = urlsplit(url)
        nodes.append((parts.hostname or "127.0.0.1", parts.port or (8883 if parts.scheme == "mqtts" else 1883)))
    return client, nodes


def connect_kwargs(b: Broker, persistent: bool) -> dict[str, Any]:
    if b.protocol != "v5":
        return {}
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 86400 if persistent else 0
    return {"clean_start": not persistent, "properties": props}


def fail_over(client: mqtt.Client, nodes: list[tuple[str, int]]) -> None:
    """On a failed (re)connection, the next node: paho's own reconnect loop then tries it."""
    if len(nodes) < 2:
        return
    turn = [0]

    def next_node(c: mqtt.Client, _userdata: Any) -> None:
        turn[0] = (turn[0] + 1) % len(nodes)
        # paho's public setters refuse while it is still "connecting", which is exactly when a
        # failed attempt calls this; its reconnect reads these two on the next try
        c._host, c._port = nodes[turn[0]]

    client.on_connect_fail = next_node
