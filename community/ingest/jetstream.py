"""The ingest on a NATS cluster: gateways publish over MQTT 3.1.1 to any node; a JetStream stream
(replicated on 3 nodes) keeps what they send; every ingest worker pulls from two durable
consumers, so each message goes to one worker; the ack to JetStream follows the database commit.

**Alerts have their own consumer**: ``eldergate-alerts`` filters the ``alerts`` and ``acked``
subjects, ``eldergate-telemetry`` the rest, so a backlog of vitals in the stream never stands
before an alert. What each pulls goes into the same three lanes as on Mosquitto (``lanes.py``:
fresh alerts first, replayed ones in short batches, then telemetry); each consumer pulls again
only while its lanes have room, so the rest waits in JetStream, not in memory. A message
JetStream gives up on (``max_deliver``) is announced by an advisory, counted as a broker drop.

NATS's MQTT side has no ``$share/``: work is shared on the NATS side instead. A worker killed
between its commit and its ack leaves the batch unacked; after ``ack_wait`` JetStream hands it to
another worker, and the unique keys make the second store harmless. Receipts go back as NATS
publishes on the subject of the gateway's ``ack`` topic; the gateway's MQTT subscription receives
them (at QoS 0: a NATS publish carries no QoS, docs.nats.io "Where to go next"), and a receipt
lost that way is earned again by the gateway's resend.

Topic ↔ subject as NATS maps them (docs.nats.io, MQTT): ``/`` is ``.``, and ``.`` is ``//``.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection

from eldergate.community.clock import Clock
from eldergate.community.config import Broker, CommunityConfig
from eldergate.community.ingest.batches import BATCH, BatchStore, broker_back
from eldergate.community.ingest.drops import BrokerDrops
from eldergate.community.ingest.lanes import ALERT_LANES, Lanes, lane_of, store_loops
from eldergate.community.ingest.quota import ALERT_LEAVES
from eldergate.community.ingest.store import Incoming
from eldergate.community.work.liveness import Task
from eldergate.contract.messages import GATEWAY_LEAVES

log = logging.getLogger(__name__)
STREAM = "ELDERGATE_UP"
OLD_CONSUMER = "eldergate-ingest"  # one consumer for everything, before alerts had their own
CONSUMERS = {"alerts": "eldergate-alerts", "telemetry": "eldergate-telemetry"}
AHEAD = 2 * BATCH  # telemetry a worker may have pulled and not yet stored
# alerts a worker may hold pulled and not yet stored: a replay is taken into memory so that the
# lanes can put a fresh fall before it (JetStream hands them over in stream order); alerts are
# small; but what is held longer than ACK_WAIT_S is handed to another worker again, and a NATS
# worker on 2 cores stored a 10,000-alert replay in 30-40 s: 5,000 drain within it
ALERTS_AHEAD = 5_000
GAVE_UP = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + STREAM + ".*"
ACK_WAIT_S = 30.0  # a dead worker's unacked batch goes to another after this
# A message that keeps failing is redelivered this often at most: each copy is either stored or
# dead-lettered by the batch store, so only a database down for that long reaches it.
MAX_DELIVER = 1000


def subject(mqtt_topic: str) -> str:
    return ".".join(level.replace(".", "//") for level in mqtt_topic.split("/"))


def topic_levels(nats_subject: str) -> list[str]:
    return [level.replace("\0", ".") for level in nats_subject.replace("//", "\0").split(".")]


class NatsPublisher:
    """Publishes from any thread through the ingest's event loop."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.nc: Any = None

    def publish(self, topic: str, payload: str, qos: int = 1, retain: bool = False) -> bool:
        if self.loop is None or self.nc is None or not self.nc.is_connected:
            return False
        asyncio.run_coroutine_threadsafe(self.nc.publish(subject(topic), payload.encode()), self.loop)
        return True


def nats_auth(b: Broker) -> dict[str, Any]:
    """The server's own user (the broker's credentials file) and TLS for tls:// URLs."""
    kw: dict[str, Any] = {}
    if b.credentials_file is not None:
        user, password = b.credentials_file.read_text().splitlines()[:2]
        kw.update(user=user.strip(), password=password.strip())
    if any(u.startswith("tls://") for u in b.nats_urls):
        ctx = ssl.create_default_context(cafile=str(b.ca_file) if b.ca_file else None)
        if b.cert_file is not None and b.key_file is not None:
            ctx.load_cert_chain(str(b.cert_file), str(b.key_file))
        kw["tls"] = ctx
    return kw


@dataclass(frozen=True, slots=True)
class Pulled:
    incoming: Incoming
    msg: Any  # the JetStream message, acked after the commit


class JetStreamIngest(BatchStore):
    def __init__(self, cfg: CommunityConfig, clock: Clock, client_suffix: str = "") -> None:
        self.nats = NatsPublisher()
        super().__init__(cfg, clock, self.nats)
        self.name = f"{cfg.broker.client_id}{client_suffix}"
        self.connected = threading.Event()  # bound to the consumers: the gateways' messages reach us
        self.lanes: Lanes[Pulled] = Lanes(max(cfg.ingest.queue, ALERTS_AHEAD + AHEAD))
        self.drops = BrokerDrops()
        self.wake: threading.Event | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, supervise: Callable[[Task], Task] | None = None) -> None:
        """``supervise`` is taken for the same call as the MQTT ingest; this loop keeps itself alive
        (it binds again after any failure) and is not yet reported by health."""
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="eg-ingest-js", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    async def _main(self) -> None:
        import nats

        loop = asyncio.get_running_loop()

        async def disconnected() -> None:
            self.connected.clear()

        async def reconnected() -> None:
            log.info("ingest: NATS reconnected to %s", nc.connected_url.netloc if nc.connected_url else "?")

        async def error(err: Exception) -> None:
            log.warning("ingest: NATS: %s", str(err)[:160])

        nc = await nats.connect(servers=self.cfg.broker.nats_urls, name=self.name, max_reconnect_attempts=-1,
                                reconnect_time_wait=1, allow_reconnect=True, connect_timeout=3,
                                disconnected_cb=disconnected, reconnected_cb=reconnected, error_cb=error,
                                **nats_auth(self.cfg.broker))
        self.nats.loop, self.nats.nc = loop, nc
        await nc.subscribe(GAVE_UP, cb=self._gave_up)
        try:
            while not self._stop.is_set():
                try:
                    subs = await self._bind(nc)
                    self.connected.set()
                    await loop.run_in_executor(None, broker_back, self.clock, self.wake)
                    log.info("ingest: pulling from JetStream %s (%s)", STREAM, ", ".join(CONSUMERS.values()))
                    await self._pull(subs, loop)
                except Exception as err:  # noqa: BLE001  (a node or the stream's leader is changing: bind again)
                    self.connected.clear()
                    log.warning("ingest: JetStream unavailable (%s); retrying", str(err)[:160] or type(err).__name__)
                    await asyncio.sleep(1.0)
        finally:
            await nc.drain()

    async def _gave_up(self, _msg: Any) -> None:
        self.drops.add(1)

    async def _bind(self, nc: Any) -> dict[str, Any]:
        from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StorageType, StreamConfig

        js = nc.jetstream(timeout=5)
        prefix = subject(self.cfg.broker.prefix)
        stream = StreamConfig(
            name=STREAM, subjects=[f"{prefix}.*.*.{leaf}" for leaf in GATEWAY_LEAVES],
            retention=RetentionPolicy.WORK_QUEUE, storage=StorageType.FILE,
            num_replicas=self.cfg.broker.stream_replicas, max_age=7 * 86400.0,  # a week of server outage
            duplicate_window=120.0)
        try:
            await js.add_stream(stream)
        except Exception:  # noqa: BLE001  (it exists: another worker made it, perhaps with other settings)
            await js.stream_info(STREAM)  # use it; this raises when there is no stream after all
        try:  # a work queue takes no two consumers for one subject: the old catch-all one goes
            await js.delete_consumer(STREAM, OLD_CONSUMER)  # what it held unacked is offered again
            log.info("ingest: removed the single consumer %s of before alerts had their own", OLD_CONSUMER)
        except Exception:  # noqa: BLE001  (it is not there: the usual case)
            pass
        subs = {}
        for lane, durable in CONSUMERS.items():
            leaves = [leaf for leaf in GATEWAY_LEAVES if (leaf in ALERT_LEAVES) == (lane == "alerts")]
            await js.add_consumer(STREAM, ConsumerConfig(
                durable_name=durable, ack_policy=AckPolicy.EXPLICIT, ack_wait=ACK_WAIT_S, max_deliver=MAX_DELIVER,
                max_ack_pending=50_000, max_waiting=512, filter_subjects=[f"{prefix}.*.*.{leaf}" for leaf in leaves]))
            subs[lane] = await js.pull_subscribe_bind(durable=durable, stream=STREAM)
        return subs

    async def _pull(self, subs: dict[str, Any], loop: asyncio.AbstractEventLoop) -> None:
        """Two pullers fill the lanes; two store loops (threads: alerts', telemetry's) empty them. The
        first to fail ends all four, and the caller binds again (what was pulled and not acked comes
        back)."""
        done = threading.Event()
        tasks = [asyncio.create_task(self._puller(subs["alerts"], ALERT_LANES, done)),
                 asyncio.create_task(self._puller(subs["telemetry"], ("telemetry",), done)),
                 *(asyncio.ensure_future(loop.run_in_executor(None, self._store_loop, loop, done, lanes))
                   for _name, lanes in store_loops(connection.vendor))]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            done.set()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for r in self.lanes.take(10**9, timeout=0):  # pulled, not stored: JetStream offers them again
                await r.msg.nak()
        for t in tasks:
            if t.done() and not t.cancelled() and t.exception() is not None:
                raise t.exception()  # type: ignore[misc]

    async def _puller(self, sub: Any, lanes: tuple[str, ...], done: threading.Event) -> None:
        import nats.errors

        while not (self._stop.is_set() or done.is_set()):
            ahead = ALERTS_AHEAD if "alerts" in lanes else AHEAD
            room = ahead - sum(n for name, n in self.lanes.depth().items() if name in lanes)
            if room <= 0:
                await asyncio.sleep(0.01)
                continue
            try:
                msgs = await sub.fetch(min(BATCH, room), timeout=1.0)
            except (nats.errors.TimeoutError, TimeoutError):  # nothing came within the second
                continue
            now = self.clock.now().timestamp()
            for m in msgs:
                levels = topic_levels(m.subject)
                site, gw, leaf = (levels[-3], levels[-2], levels[-1]) if len(levels) >= 4 else ("", "", "")
                if not leaf or not self.within_quota(site, gw, leaf, len(m.data)):
                    await m.ack()  # not ours to store (over its quota: the box resends what matters)
                    continue
                if not self.lanes.put(Pulled(Incoming(leaf, site, gw, m.data), m), lane_of(leaf, m.data, now),
                                      timeout=0):
                    await m.nak()  # never expected: the room was checked

    def _store_loop(self, loop: asyncio.AbstractEventLoop, done: threading.Event, lanes: tuple[str, ...]) -> None:
        """Store what the pullers queued in ``lanes`` (fresh alerts first); then flush the receipts
        and ack to JetStream (nak with a delay when the database cannot be reached)."""
        while not (self._stop.is_set() or done.is_set()):
            batch = self.lanes.take(BATCH, timeout=0.2, lanes=lanes)
            if not batch:
                continue
            ok = self.store_batch([p.incoming for p in batch])
            asyncio.run_coroutine_threadsafe(self._settle(batch, ok), loop).result(30)

    async def _settle(self, batch: list[Pulled], stored: bool) -> None:
        if not stored:
            for p in batch:  # the database is down: JetStream keeps them and offers them again
                await p.msg.nak(delay=5.0)
            return
        await self.nats.nc.flush(timeout=5)  # the receipts are out before the batch is let go
        for p in batch:
            await p.msg.ack()
