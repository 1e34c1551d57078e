"""The ingest on an MQTT broker (Mosquitto): subscribes to what gateways send, stores it, receipts
alerts after the commit, and only then PUBACKs (manual acknowledgement).

**Alerts have their own lane end to end.** Two connections, each with its own session, in-flight
window and broker queue: one subscribes to ``alerts`` and ``acked`` (and sends the receipts and
acknowledgements), the other to the telemetry leaves. A flood of vitals fills the telemetry
connection's window and queue, never the alerts'. In process, ``lanes.py`` takes alerts raised in
the last minute first, then replayed alerts in short batches, then telemetry; vitals are shed
(counted, reported by health) when the telemetry lane is full rather than waited for.

As a message arrives its gateway's quota is checked (``quota.py``): over it, the message is
PUBACKed, counted and dropped, so one flooding box costs its own messages only (an alert dropped
so earns no receipt and comes again).

It subscribes per leaf to ``<prefix>/+/+/<leaf>`` for the gateway→server leaves only, so it never
receives its own ``ack`` messages back (a ``#`` subscription would). Alone it keeps persistent
sessions; several ingest processes share the subscriptions (``$share/``) with session expiry 0,
and the gateways' resend-until-receipt covers any gap while all of them are down. The broker's
own count of messages it dropped (``$SYS/broker/publish/messages/dropped``) is read and reported
(``broker_dropped``). The server's presence on ``_server/status`` is ``presence.ServerPresence``'s.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from django.db import connection

from eldergate.community.clock import Clock
from eldergate.community.config import CommunityConfig
from eldergate.community.ingest.batches import BATCH, BatchStore, broker_back
from eldergate.community.ingest.drops import BrokerDrops
from eldergate.community.ingest.lanes import LANES, Lanes, sort, store_loops
from eldergate.community.ingest.links import connect_kwargs, fail_over, make_client
from eldergate.community.ingest.quota import ALERT_LEAVES
from eldergate.community.ingest.store import Incoming
from eldergate.community.work.liveness import Task
from eldergate.contract.messages import GATEWAY_LEAVES

log = logging.getLogger(__name__)
ALERT_LANE_LEAVES = tuple(leaf for leaf in GATEWAY_LEAVES if leaf in ALERT_LEAVES)  # alerts, acked
TELEMETRY_LEAVES = tuple(leaf for leaf in GATEWAY_LEAVES if leaf not in ALERT_LEAVES)
DROPPED = "$SYS/broker/publish/messages/dropped"  # Mosquitto's count (mosquitto(8), "Broker Status")
# the broker may have many messages in flight to the server at once (it would otherwise wait for
# each PUBACK, which follows a commit); and the server's own receipts are never held back by
# paho's default window of 20 (receipts arrived in clumps of 20 under load)
INFLIGHT = 1000
# telemetry waits this long at most to fill a batch (an alert never waits: lanes.Lanes.take)
TELEMETRY_LINGER_S = 0.25


class MqttPublisher:
    def __init__(self, client: mqtt.Client) -> None:
        self.client = client

    def publish(self, topic: str, payload: str, qos: int = 1, retain: bool = False) -> bool:
        return self.client.publish(topic, payload, qos=qos, retain=retain).rc == mqtt.MQTT_ERR_SUCCESS


@dataclass(frozen=True, slots=True)
class Received:
    incoming: Incoming
    mid: int | None
    qos: int
    client: mqtt.Client | None


class Ingest(BatchStore):
    def __init__(self, cfg: CommunityConfig, clock: Clock, client_suffix: str = "") -> None:
        b = cfg.broker
        self.persistent = not b.shared
        # the alerts' connection; the telemetry's keeps the name of the single connection of before,
        # so that an upgraded server finds its session (and unsubscribes the alert leaves there)
        self.client, self.nodes = make_client(b, f"{b.client_id}-alerts{client_suffix}", self.persistent,
                                              manual_ack=True)
        self.telemetry, _ = make_client(b, b.client_id + client_suffix, self.persistent, manual_ack=True)
        super().__init__(cfg, clock, MqttPublisher(self.client))
        self.lanes: Lanes[Received] = Lanes(cfg.ingest.queue)
        self._stop = threading.Event()
        self.wake: threading.Event | None = None  # set when the ack sender should look now (the broker came back)
        self.connected = threading.Event()  # both connections subscribed: the gateways' messages reach us
        self._subscribed: set[str] = set()
        self.drops = BrokerDrops()  # the broker's own count, when it publishes one
        for c, leaves, name in ((self.client, ALERT_LANE_LEAVES, "alerts"),
                                (self.telemetry, TELEMETRY_LEAVES, "telemetry")):
            c.max_inflight_messages_set(INFLIGHT)
            c.max_queued_messages_set(0)
            fail_over(c, self.nodes)
            c.on_connect = self._on_connect_for(leaves, name)
            c.on_disconnect = self._on_disconnect_for(name)
            c.on_subscribe = self._on_subscribe_for(name)
            c.on_message = self._on_message
        self.client.message_callback_add(DROPPED, self._on_dropped)

    def start(self, supervise: Callable[[Task], Task] | None = None) -> None:
        """Connect both, and run the store loops (under ``supervise`` when given: serve's supervisor)."""
        for name, lanes in store_loops(connection.vendor):  # alerts in a thread of their own (PostgreSQL)
            (supervise or Task.start)(Task(name, functools.partial(self._drain, lanes=lanes), self._stop))
        first = self.nodes[0]
        for c in (self.client, self.telemetry):
            c.connect_async(first.host, first.port, 30, **connect_kwargs(self.cfg.broker, self.persistent))
            c.loop_start()

    def stop(self) -> None:
        self._stop.set()
        for c in (self.client, self.telemetry):
            c.disconnect()
            c.loop_stop()

    # -- the connections ------------------------------------------------------------------------

    def _on_connect_for(self, leaves: tuple[str, ...], name: str) -> Callable[..., None]:
        def on_connect(client: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any = None) -> None:
            if getattr(rc, "is_failure", False):
                log.warning("the broker refused the %s connection: %s", name, rc)
                return
            prefix = self.cfg.broker.prefix
            share = f"$share/eldergate-ingest-{name}/" if self.cfg.broker.shared else ""
            topics = [(f"{share}{prefix}/+/+/{leaf}", 1) for leaf in leaves]
            if name == "alerts":
                topics.append((DROPPED, 0))
            else:  # a session from before the lanes were split still holds the alert leaves
                client.unsubscribe([f"{share}{prefix}/+/+/{leaf}" for leaf in ALERT_LANE_LEAVES])
            client.subscribe(topics)
        return on_connect

    def _on_disconnect_for(self, name: str) -> Callable[..., None]:
        def on_disconnect(*_a: Any) -> None:
            self._subscribed.discard(name)
            self.connected.clear()
        return on_disconnect

    def _on_subscribe_for(self, name: str) -> Callable[..., None]:
        def on_subscribe(client: mqtt.Client, *_a: Any) -> None:
            self._subscribed.add(name)
            log.info("ingest subscribed on %s:%d (%s)", client.host, client.port, name)
            if {"alerts", "telemetry"} <= self._subscribed:
                self.connected.set()
                broker_back(self.clock, self.wake)
        return on_subscribe

    def _on_dropped(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            self.drops.counter(int(msg.payload))
        except ValueError:
            return

    def _on_message(self, client: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        parts = msg.topic.split("/")
        if len(parts) < 4:
            client.ack(msg.mid, msg.qos)
            return
        site, gw, leaf = parts[-3], parts[-2], parts[-1]
        if not self.within_quota(site, gw, leaf, len(msg.payload)):
            client.ack(msg.mid, msg.qos)
            return
        item = Received(Incoming(leaf, site, gw, bytes(msg.payload), bool(msg.retain)), msg.mid, msg.qos, client)
        if leaf == "vitals" and msg.qos == 0:
            self.lanes.offer(item, leaf)  # shed, counted, when the telemetry lane is full
            return
        lane, key = sort(leaf, site, gw, msg.payload, self.clock.now().timestamp())
        if self.lanes.waiting(key):  # a resend of a copy still queued (lanes.Lanes.waiting)
            self.counts["coalesced"] += 1
            client.ack(msg.mid, msg.qos)
            return
        while not self.lanes.put(item, lane, timeout=1.0, key=key):
            if self._stop.is_set():  # shutting down: the broker gives it back to the next session
                return

    # -- the store loop -------------------------------------------------------------------------

    def _drain(self, task: Task, lanes: tuple[str, ...] = LANES) -> None:
        """A store loop (``lanes.store_loops``: on PostgreSQL one for the alert lanes and one for
        telemetry, on SQLite one for all): take what has arrived in ``lanes`` (fresh alerts first,
        up to BATCH), store and receipt it, then PUBACK (a server killed before its commit gets the
        batch again from the broker, and from the gateways' resends). A database that cannot be
        reached keeps the batch here, unacknowledged, and is tried again, backing off to 10 s."""
        while not self._stop.is_set():
            task.beat()
            batch = self.lanes.take(BATCH, timeout=0.2, lanes=lanes, linger=TELEMETRY_LINGER_S)
            wait = 0.5
            while batch and not self.handle_batch(batch):
                task.beat()
                if self._stop.wait(wait):
                    return
                wait = min(10.0, wait * 2)

    def handle(self, site: str, gw: str, leaf: str, payload: bytes, retained: bool = False) -> bool:
        return self.handle_batch([Received(Incoming(leaf, site, gw, payload, retained), None, 0, None)])

    def handle_batch(self, batch: list[Received]) -> bool:
        """Store, receipt, then PUBACK; False (and no PUBACK) when the database cannot be reached."""
        if not self.store_batch([r.incoming for r in batch]):
            return False
        for r in batch:
            if r.mid is not None and r.qos > 0 and r.client is not None:
                r.client.ack(r.mid, r.qos)
        return True
