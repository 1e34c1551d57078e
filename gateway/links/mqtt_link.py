"""Building a paho-mqtt 2 client from a broker URL, credentials and TLS files (the client itself
and the fail-over come from contract/broker_client.py, which the community server uses too).

Shared by the local source (the home's broker) and the community uplink. MQTT v5 gets a
persistent session with an expiry interval (conventions.md: without one, nothing was
queued across a reconnect); 3.1.1 gets ``clean_session=False``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties

from eldergate.config.secrets import read_credentials
from eldergate.contract import broker_client
from eldergate.contract.broker_client import BrokerAddress, parse_url

__all__ = ["BrokerAddress", "ClientSettings", "fail_over", "make_client", "parse_url", "run_network"]


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
    creds = read_credentials(s.credentials_file) if s.credentials_file is not None else None
    client = broker_client.new_client(
        s.client_id, v5=v5, persistent=True, tls=addr.tls, manual_ack=manual_ack,
        credentials=(creds.username, creds.password) if creds is not None else None,
        ca_file=s.ca_file, cert_file=s.cert_file, key_file=s.key_file)
    props = broker_client.connect_kwargs(v5, s.session_expiry_s).get("properties")
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
    """On a failed (re)connection, the next node of the broker's cluster (contract/broker_client.py)."""
    broker_client.fail_over(client, [parse_url(u) for u in urls])
