"""The ingest on a NATS cluster: gateways publish over MQTT 3.1.1 to any node; a JetStream stream
(replicated on 3 nodes) keeps what they send; every ingest worker pulls from one durable
consumer, so each message goes to one worker; the ack to JetStream follows the database commit.

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
from typing import Any

from eldergate.community.clock import Clock
from eldergate.community.config import Broker, CommunityConfig
from eldergate.community.ingest.batches import BATCH, BatchStore, broker_back
from eldergate.community.ingest.store import Incoming
from eldergate.community.work.liveness import Task
from eldergate.contract.messages import GATEWAY_LEAVES

log = logging.getLogger(__name__)
STREAM = "ELDERGATE_UP"
CONSUMER = "eldergate-ingest"
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


class JetStreamIngest(BatchStore):
    def __init__(self, cfg: CommunityConfig, clock: Clock, client_suffix: str = "") -> None:
        self.nats = NatsPublisher()
        super().__init__(cfg, clock, self.nats)
        self.name = f"{cfg.broker.client_id}{client_suffix}"
        self.connected = threading.Event()  # bound to the consumer: the gateways' messages reach us
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
        try:
            while not self._stop.is_set():
                try:
                    sub = await self._bind(nc)
                    self.connected.set()
                    await loop.run_in_executor(None, broker_back, self.clock, self.wake)
                    log.info("ingest: pulling from JetStream %s/%s", STREAM, CONSUMER)
                    await self._pull(sub, loop)
                except Exception as err:  # noqa: BLE001  (a node or the stream's leader is changing: bind again)
                    self.connected.clear()
                    log.warning("ingest: JetStream unavailable (%s); retrying", str(err)[:160] or type(err).__name__)
                    await asyncio.sleep(1.0)
        finally:
            await nc.drain()

    async def _bind(self, nc: Any) -> Any:
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
        await js.add_consumer(STREAM, ConsumerConfig(
            durable_name=CONSUMER, ack_policy=AckPolicy.EXPLICIT, ack_wait=ACK_WAIT_S, max_deliver=MAX_DELIVER,
            max_ack_pending=50_000, max_waiting=512))
        return await js.pull_subscribe_bind(durable=CONSUMER, stream=STREAM)

    async def _pull(self, sub: Any, loop: asyncio.AbstractEventLoop) -> None:
        import nats.errors

        while not self._stop.is_set():
            try:
                msgs = await sub.fetch(BATCH, timeout=1.0)
            except (nats.errors.TimeoutError, TimeoutError):  # nothing came within the second
                continue
            batch: list[Incoming] = []
            for m in msgs:
                levels = topic_levels(m.subject)
                if len(levels) < 4:
                    continue
                site, gw, leaf = levels[-3], levels[-2], levels[-1]
                if self.within_quota(site, gw, leaf, len(m.data)):
                    batch.append(Incoming(leaf, site, gw, m.data))
            if not await loop.run_in_executor(None, self.store_batch, batch):
                for m in msgs:  # the database is down: JetStream keeps them and offers them again
                    await m.nak(delay=5.0)
                continue
            await self.nats.nc.flush(timeout=5)  # the receipts are out before the batch is let go
            for m in msgs:
                await m.ack()
