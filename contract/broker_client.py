"""One paho-mqtt 2 client builder for both halves: the box's links (gateway/links/mqtt_link.py)
and the server's ingest (community/ingest/links.py) take their clients, broker addresses, CONNECT
properties and cluster fail-over from here.

MQTT v5 gets a session expiry (conventions.md: without one, nothing was queued across a
reconnect); 3.1.1 gets ``clean_session`` False for a persistent session. A credentials file holds
the username on its first line and the password on its second (the server's CLI writes them so
for boxes, community/identity/)."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties


class CredentialsError(ValueError):
    """A credentials file that cannot be read or lacks a line (the message names the file)."""


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool


def parse_url(url: str) -> BrokerAddress:
    parts = urlsplit(url)
    tls = parts.scheme == "mqtts"
    return BrokerAddress(parts.hostname or "127.0.0.1", parts.port or (8883 if tls else 1883), tls)


def read_credentials(file: Path) -> tuple[str, str]:
    """(username, password) from a credentials file; never the password in an error."""
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise CredentialsError(f"cannot read credentials file {file}: {err.strerror}") from None
    if len(lines) < 2 or not lines[0].strip():
        raise CredentialsError(f"credentials file {file} needs two lines: username, then password")
    return lines[0].strip(), lines[1].strip()


def new_client(client_id: str, *, v5: bool, persistent: bool, tls: bool, manual_ack: bool = False,
               credentials: tuple[str, str] | None = None, ca_file: Path | None = None,
               cert_file: Path | None = None, key_file: Path | None = None) -> mqtt.Client:
    """A client that reconnects by itself; ``manual_ack``: a QoS 1 message is confirmed to the
    broker only by ``client.ack()`` (after what it carried is stored)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
                         clean_session=None if v5 else not persistent,
                         reconnect_on_failure=True, manual_ack=manual_ack)
    if credentials is not None:
        client.username_pw_set(*credentials)
    if tls:
        ctx = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        if cert_file is not None and key_file is not None:
            ctx.load_cert_chain(str(cert_file), str(key_file))
        client.tls_set_context(ctx)
    return client


def connect_kwargs(v5: bool, session_expiry_s: int) -> dict[str, Any]:
    """What ``connect``/``connect_async`` take for a v5 session that outlives a disconnection by
    ``session_expiry_s`` (0: a clean one); nothing for 3.1.1."""
    if not v5:
        return {}
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = session_expiry_s
    return {"clean_start": session_expiry_s == 0, "properties": props}


def fail_over(client: mqtt.Client, nodes: list[BrokerAddress]) -> None:
    """On a failed (re)connection, the next node of the broker's cluster; paho's own reconnect
    loop then tries that one. One node: nothing changes."""
    if len(nodes) < 2:
        return
    turn = [0]

    def next_node(c: mqtt.Client, _userdata: object) -> None:
        turn[0] = (turn[0] + 1) % len(nodes)
        # paho's public setters refuse while it is still "connecting", which is exactly when a
        # failed attempt calls this; its reconnect reads these two on the next try
        c._host, c._port = nodes[turn[0]].host, nodes[turn[0]].port

    client.on_connect_fail = next_node
