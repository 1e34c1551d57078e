"""The ingest: subscribes to what gateways send, stores it, and receipts alerts after the commit.

It subscribes per leaf to ``<prefix>/+/+/<leaf>`` for the gateway→server leaves only, so it never
receives its own ``ack`` messages back (a ``#`` subscription would). Once subscribed it says
"online" on the retained ``<prefix>/_server/status`` (its last will says "offline"), which makes
every gateway resend what is unconfirmed. Alone it keeps a persistent session; several ingest
processes share the subscription (``$share/``) with session expiry 0, and the gateways'
resend-until-receipt covers any gap while all of them are down.
"""

from __future__ import annotations

import logging
import os
import signal
import ssl
import threading
import time
from collections import Counter
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from django.db import DatabaseError, close_old_connections, connection
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from eldergate.community.clock import Clock
from eldergate.community.config import Broker, CommunityConfig
from eldergate.community.ingest.store import Malformed, store
from eldergate.community.work import acks
from eldergate.contract.messages import GATEWAY_LEAVES, ServerStatusMessage, server_status_topic, topic

log = logging.getLogger(__name__)


def make_client(b: Broker, client_id: str, persistent: bool) -> tuple[mqtt.Client, str, int, Properties]:
    parts = urlsplit(b.url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5,
                         reconnect_on_failure=True)
    if b.credentials_file is not None:
        user, password = b.credentials_file.read_text().splitlines()[:2]
        client.username_pw_set(user.strip(), password.strip())
    if parts.scheme == "mqtts":
        client.tls_set_context(ssl.create_default_context(cafile=str(b.ca_file) if b.ca_file else None))
    client.reconnect_delay_set(1, 30)
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 86400 if persistent else 0
    return client, parts.hostname or "127.0.0.1", parts.port or (8883 if parts.scheme == "mqtts" else 1883), props


class MqttPublisher:
    def __init__(self, client: mqtt.Client) -> None:
        self.client = client

    def publish(self, topic: str, payload: str, qos: int = 1, retain: bool = False) -> bool:
        return self.client.publish(topic, payload, qos=qos, retain=retain).rc == mqtt.MQTT_ERR_SUCCESS


class Ingest:
    def __init__(self, cfg: CommunityConfig, clock: Clock, wake: threading.Event | None = None,
                 client_suffix: str = "") -> None:
        self.cfg, self.clock = cfg, clock
        self.wake = wake  # set when the ack sender should look now (the broker came back)
        b = cfg.broker
        self.client, self.host, self.port, self.props = make_client(
            b, b.client_id + client_suffix, persistent=not b.shared)
        self.publisher = MqttPublisher(self.client)
        self.connected = threading.Event()
        self.counts: Counter[str] = Counter()  # stored, duplicate, receipts, malformed, errors
        self._warned: set[tuple[str, str]] = set()
        self._presence = server_status_topic(b.prefix)
        self.client.will_set(self._presence, self._status("offline"), qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *_: self.connected.clear()
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    def _status(self, state: str) -> str:
        return ServerStatusMessage(state=state, sent_at=time.time()).model_dump_json()

    def start(self) -> None:
        self.client.connect_async(self.host, self.port, 30, clean_start=False, properties=self.props)
        self.client.loop_start()

    def stop(self) -> None:
        if self.client.is_connected():
            self.client.publish(self._presence, self._status("offline"), qos=1, retain=True).wait_for_publish(2)
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any = None) -> None:
        if getattr(rc, "is_failure", False):
            log.warning("the broker refused the connection: %s", rc)
            return
        prefix = self.cfg.broker.prefix
        share = "$share/eldergate-ingest/" if self.cfg.broker.shared else ""
        client.subscribe([(f"{share}{prefix}/+/+/{leaf}", 1) for leaf in GATEWAY_LEAVES])

    def _on_subscribe(self, client: mqtt.Client, *_: Any) -> None:
        """Only now can the gateways' resends reach us: only now say "online"."""
        client.publish(self._presence, self._status("online"), qos=1, retain=True)
        self.connected.set()
        try:
            acks.reset_backoff(self.clock.now())
        except DatabaseError:
            connection.close()
        if self.wake is not None:
            self.wake.set()
        log.info("ingest subscribed on %s:%d", self.host, self.port)

    def _on_message(self, client: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        parts = msg.topic.split("/")
        if len(parts) < 4:
            return
        site, gw, leaf = parts[-3], parts[-2], parts[-1]
        self.handle(site, gw, leaf, bytes(msg.payload), bool(msg.retain))

    def _fault_now(self) -> bool:
        """Fault injection for the tests (ELDERGATE_COMMUNITY_FAULT=kill-before-receipt:N): die
        right after the Nth alert commit, before its receipt. Unset in production."""
        spec = os.environ.get("ELDERGATE_COMMUNITY_FAULT", "")
        if not spec.startswith("kill-before-receipt:"):
            return False
        self.counts["fault_countdown"] += 1
        return self.counts["fault_countdown"] >= int(spec.rsplit(":", 1)[1])

    def handle(self, site: str, gw: str, leaf: str, payload: bytes, retained: bool = False) -> None:
        now: datetime = self.clock.now()
        try:
            close_old_connections()
            result = store(leaf, site, gw, payload, now, self.cfg, retained=retained)
        except Malformed as err:
            self.counts["malformed"] += 1
            if (site, gw) not in self._warned:  # once per gateway: a broken one must not flood the log
                self._warned.add((site, gw))
                log.warning("ignored a malformed %s message from %s/%s: %s (further ones are only counted)",
                            leaf, site, gw, err)
            return
        except DatabaseError as err:
            # no receipt: the gateway keeps the alert and resends it; the next message reconnects
            self.counts["errors"] += 1
            log.error("could not store a %s message from %s/%s: %s", leaf, site, gw, type(err).__name__)
            connection.close()
            return
        self.counts["stored" if result.new else "duplicate"] += 1
        if result.receipt is not None and self._fault_now():
            os.kill(os.getpid(), signal.SIGKILL)  # the worst moment: committed, not yet receipted
        if result.receipt is not None:  # committed: only now may the gateway let it go
            self.counts["receipts"] += 1
            self.publisher.publish(topic(self.cfg.broker.prefix, site, gw, "ack"),
                                   result.receipt.model_dump_json(), qos=1)
