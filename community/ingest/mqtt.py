"""The ingest on an MQTT broker (Mosquitto): subscribes to what gateways send, stores it, receipts
alerts after the commit, and only then PUBACKs (manual acknowledgement).

As a message arrives its gateway's quota is checked (``quota.py``): over it, the message is
PUBACKed, counted and dropped, so one flooding box costs its own messages only (an alert dropped
so earns no receipt and comes again). The rest waits in a bounded queue whose alert lane is
always taken first (``lanes.py``).

It subscribes per leaf to ``<prefix>/+/+/<leaf>`` for the gateway→server leaves only, so it never
receives its own ``ack`` messages back (a ``#`` subscription would). Alone it keeps a persistent
session; several ingest processes share the subscription (``$share/``) with session expiry 0, and
the gateways' resend-until-receipt covers any gap while all of them are down. The server's
presence on ``_server/status`` is not said here but by ``presence.ServerPresence``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt

from eldergate.community.clock import Clock
from eldergate.community.config import CommunityConfig
from eldergate.community.ingest.batches import BATCH, BatchStore, broker_back
from eldergate.community.ingest.lanes import Lanes
from eldergate.community.ingest.links import connect_kwargs, fail_over, make_client
from eldergate.community.ingest.quota import ALERT_LEAVES
from eldergate.community.ingest.store import Incoming
from eldergate.community.work.liveness import Task
from eldergate.contract.messages import GATEWAY_LEAVES

log = logging.getLogger(__name__)


class MqttPublisher:
    def __init__(self, client: mqtt.Client) -> None:
        self.client = client

    def publish(self, topic: str, payload: str, qos: int = 1, retain: bool = False) -> bool:
        return self.client.publish(topic, payload, qos=qos, retain=retain).rc == mqtt.MQTT_ERR_SUCCESS


class Ingest(BatchStore):
    def __init__(self, cfg: CommunityConfig, clock: Clock, client_suffix: str = "") -> None:
        b = cfg.broker
        self.persistent = not b.shared
        self.client, self.nodes = make_client(b, b.client_id + client_suffix, self.persistent, manual_ack=True)
        super().__init__(cfg, clock, MqttPublisher(self.client))
        fail_over(self.client, self.nodes)
        self.lanes: Lanes[tuple[Incoming, int | None, int]] = Lanes(cfg.ingest.queue)
        self._stop = threading.Event()
        self.wake: threading.Event | None = None  # set when the ack sender should look now (the broker came back)
        self.connected = threading.Event()  # subscribed: the gateways' messages reach us
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *_: self.connected.clear()
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    def start(self, supervise: Callable[[Task], Task] | None = None) -> None:
        """Connect, and run the store loop (under ``supervise`` when given: serve's supervisor)."""
        task = Task("eg-ingest-store", self._drain, self._stop)
        (supervise or Task.start)(task)
        host, port = self.nodes[0]
        self.client.connect_async(host, port, 30, **connect_kwargs(self.cfg.broker, self.persistent))
        self.client.loop_start()

    def stop(self) -> None:
        self._stop.set()
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
        self.connected.set()
        broker_back(self.clock, self.wake)
        log.info("ingest subscribed on %s:%d", client.host, client.port)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        parts = msg.topic.split("/")
        if len(parts) < 4:
            self.client.ack(msg.mid, msg.qos)
            return
        site, gw, leaf = parts[-3], parts[-2], parts[-1]
        if not self.within_quota(site, gw, leaf, len(msg.payload)):
            self.client.ack(msg.mid, msg.qos)
            return
        item = (Incoming(leaf, site, gw, bytes(msg.payload), bool(msg.retain)), msg.mid, msg.qos)
        while not self.lanes.put(item, urgent=leaf in ALERT_LEAVES, timeout=1.0):
            if self._stop.is_set():  # shutting down: the broker gives it back to the next session
                return

    def _drain(self, task: Task) -> None:
        """The store loop: take what has arrived (alerts first, up to BATCH), store and receipt
        it, then PUBACK (a server killed before its commit gets the batch again from the broker,
        and from the gateways' resends). A database that cannot be reached keeps the batch here,
        unacknowledged, and is tried again, backing off to 10 s."""
        while not self._stop.is_set():
            task.beat()
            batch = self.lanes.take(BATCH, timeout=0.2)
            wait = 0.5
            while batch and not self.handle_batch(batch):
                task.beat()
                if self._stop.wait(wait):
                    return
                wait = min(10.0, wait * 2)

    def handle(self, site: str, gw: str, leaf: str, payload: bytes, retained: bool = False) -> bool:
        return self.handle_batch([(Incoming(leaf, site, gw, payload, retained), None, 0)])

    def handle_batch(self, batch: list[tuple[Incoming, int | None, int]]) -> bool:
        """Store, receipt, then PUBACK; False (and no PUBACK) when the database cannot be reached."""
        if not self.store_batch([it for it, _mid, _qos in batch]):
            return False
        for _it, mid, qos in batch:
            if mid is not None and qos > 0:
                self.client.ack(mid, qos)
        return True
