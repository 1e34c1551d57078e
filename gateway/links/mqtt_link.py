"""Building a paho-mqtt 2 client from a broker URL, credentials and TLS files.

Shared by the local source (the home's broker) and the community uplink. MQTT v5 gets a
persistent session with an expiry interval (conventions.md: without one, nothing was
queued across a reconnect); 3.1.1 gets ``clean_session=False``.
"""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from eldergate.config.secrets import read_credentials


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool


def parse_url(url: str) -> BrokerAddress:
    parts = urlsplit(url)
    tls = parts.scheme == "mqtts"
    return BrokerAddress(parts.hostname or "127.0.0.1", parts.port or (8883 if tls else 1883), tls)


@dataclass(frozen=True, slots=True)
class ClientSettings:
    url: str
    client_id: str
    protocol: str = "v5"  # v5 | v311
    credentials_file: Path | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    session_expiry_s: int = 7 * 86400
    keepalive_s: int = 30


def make_client(s: ClientSettings, manual_ack: bool = False) -> tuple[mqtt.Client, BrokerAddress, Properties | None]:
    """A configured client, where to connect, and the CONNECT properties (v5). With
    ``manual_ack`` a QoS 1 message is confirmed to the broker only by ``client.ack()``."""
    addr = parse_url(s.url)
    v5 = s.protocol == "v5"
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=s.client_id,
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
        clean_session=None if v5 else False,
        reconnect_on_failure=True,
        manual_ack=manual_ack,
    )
    if s.credentials_file is not None:
        creds = read_credentials(s.credentials_file)
        client.username_pw_set(creds.username, creds.password)
    if addr.tls:
        ctx = ssl.create_default_context(cafile=str(s.ca_file) if s.ca_file else None)
        if s.cert_file is not None and s.key_file is not None:
            ctx.load_cert_chain(str(s.cert_file), str(s.key_file))
        client.tls_set_context(ctx)
    props = None
    if v5:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = s.session_expiry_s
    return client, addr, props


def run_network(client: mqtt.Client, addr: BrokerAddress, props: Properties | None, keepalive_s: int,
                until: threading.Event, before_disconnect: threading.Event | None = None,
                linger_s: float = 3.0) -> None:
    """paho's network loop in the calling thread (a supervised one, so that its death is seen
    and it is restarted) until ``until`` is set; then, once ``before_disconnect`` is set or
    ``linger_s`` has passed, a clean disconnect. Connects (and reconnects) by itself."""
    def stopper() -> None:
        until.wait()
        if before_disconnect is not None:
            before_disconnect.wait(linger_s)
        client.disconnect()

    if until.is_set():
        return
    if not client.is_connected():
        kwargs: dict[str, object] = {"clean_start": False, "properties": props} if props is not None else {}
        client.connect_async(addr.host, addr.port, keepalive_s, **kwargs)  # type: ignore[arg-type]
    threading.Thread(target=stopper, name="eg-mqtt-stop", daemon=True).start()
    client.loop_forever(retry_first_connection=True)


def fail_over(client: mqtt.Client, urls: list[str]) -> None:
    """On a failed (re)connection, the next node of the broker's cluster; paho's own reconnect loop
    then tries that one. One URL: nothing changes."""
    if len(urls) < 2:
        return
    nodes = [parse_url(u) for u in urls]
    turn = [0]

    def next_node(c: mqtt.Client, _userdata: object) -> None:
        turn[0] = (turn[0] + 1) % len(nodes)
        # paho's public setters refuse while it is still "connecting", which is exactly when a
        # failed attempt calls this; its reconnect reads these two on the next try
        c._host, c._port = nodes[turn[0]].host, nodes[turn[0]].port

    client.on_connect_fail = next_node
