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
import queue
import signal
import ssl
import threading
import time
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from django.db import DatabaseError, close_old_connections, connection
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from eldergate.community.clock import Clock
from eldergate.community.config import Broker, CommunityConfig
from eldergate.community.ingest.store import Incoming, store_many
from eldergate.community.work import acks
from eldergate.contract.messages import GATEWAY_LEAVES, ServerStatusMessage, server_status_topic, topic

log = logging.getLogger(__name__)
BATCH = 200  # messages per transaction at most: one commit (one fsync) for a burst


def make_client(b: Broker, client_id: str, persistent: bool,
                manual_ack: bool = False) -> tuple[mqtt.Client, str, int, Properties]:
    parts = urlsplit(b.url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5,
                         reconnect_on_failure=True, manual_ack=manual_ack)
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
            b, b.client_id + client_suffix, persistent=not b.shared, manual_ack=True)
        self._queue: queue.Queue[tuple[Incoming, int | None, int]] = queue.Queue()
        self._stop = threading.Event()
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
        threading.Thread(target=self._drain, name="eg-ingest-store", daemon=True).start()
        self.client.connect_async(self.host, self.port, 30, clean_start=False, properties=self.props)
        self.client.loop_start()

    def stop(self) -> None:
        self._stop.set()
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

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        parts = msg.topic.split("/")
        if len(parts) < 4:
            self.client.ack(msg.mid, msg.qos)
            return
        self._queue.put((Incoming(parts[-1], parts[-3], parts[-2], bytes(msg.payload), bool(msg.retain)),
                         msg.mid, msg.qos))

    def _drain(self) -> None:
        """The store thread: take what has arrived (up to BATCH), store it in one transaction, then
        receipt the alerts and acknowledge the messages to the broker (manual PUBACK: a server
        killed before its commit gets them again from the broker, and from the gateways' resends)."""
        while not self._stop.is_set():
            try:
                first = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            batch = [first]
            while len(batch) < BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self.handle_batch(batch)

    def _fault_now(self) -> bool:
        """Fault injection for the tests (ELDERGATE_COMMUNITY_FAULT=kill-before-receipt:N): die
        right after the commit holding the Nth alert message, before its receipt. Unset in production."""
        spec = os.environ.get("ELDERGATE_COMMUNITY_FAULT", "")
        if not spec.startswith("kill-before-receipt:"):
            return False
        self.counts["fault_countdown"] += 1
        return self.counts["fault_countdown"] >= int(spec.rsplit(":", 1)[1])

    def handle(self, site: str, gw: str, leaf: str, payload: bytes, retained: bool = False) -> None:
        self.handle_batch([(Incoming(leaf, site, gw, payload, retained), None, 0)])

    def handle_batch(self, batch: list[tuple[Incoming, int | None, int]]) -> None:
        items = [it for it, _mid, _qos in batch]
        try:
            close_old_connections()
            outcomes = store_many(items, self.clock.now(), self.cfg)
        except DatabaseError as err:
            # no receipt: the gateways keep their alerts and resend them; the next batch reconnects
            self.counts["errors"] += len(items)
            log.error("could not store %d message(s): %s", len(items), str(err).strip().splitlines()[0][:200])
            connection.close()
            self._ack_broker(batch)
            return
        receipts = 0
        for it, out in zip(items, outcomes, strict=True):
            if out.malformed is not None:
                self.counts["malformed"] += 1
                if (it.site, it.gateway) not in self._warned:  # once per gateway: a broken one must not flood the log
                    self._warned.add((it.site, it.gateway))
                    log.warning("ignored a malformed %s message from %s/%s: %s (further ones are only counted)",
                                it.leaf, it.site, it.gateway, out.malformed)
                continue
            assert out.stored is not None
            self.counts["stored" if out.stored.new else "duplicate"] += 1
            if out.stored.receipt is not None:
                receipts += 1
                if self._fault_now():
                    os.kill(os.getpid(), signal.SIGKILL)  # the worst moment: committed, not yet receipted
                self.publisher.publish(topic(self.cfg.broker.prefix, it.site, it.gateway, "ack"),
                                       out.stored.receipt.model_dump_json(), qos=1)
        self.counts["receipts"] += receipts
        self.counts["batches"] += 1
        self._ack_broker(batch)

    def _ack_broker(self, batch: list[tuple[Incoming, int | None, int]]) -> None:
        for _it, mid, qos in batch:
            if mid is not None and qos > 0:
                self.client.ack(mid, qos)
