"""Thousands of simulated gateways in one asyncio loop, at the contract level (docs/contract.md),
for the city-scale test and bench/community_load.py. Written from the contract, not from the
gateway's code: MQTT 3.1.1 (what a NATS cluster speaks), persistent sessions, a retained status
with a last will, vitals and events, alerts resent with jittered back-off until the server's
receipt, and reconnection to the next broker node with jittered back-off.

The MQTT 3.1.1 packets are written here by hand (OASIS MQTT 3.1.1 §3): a paho client per gateway
costs a thread each, which ten thousand of them cannot afford.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlsplit

PREFIX = "eldergate/v1"


T = TypeVar("T")


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n % 128, n // 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _str(s: str | bytes) -> bytes:
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("!H", len(b)) + b


def _packet(kind: int, body: bytes) -> bytes:
    return bytes([kind]) + _varint(len(body)) + body


def connect_packet(client_id: str, will_topic: str, will: bytes, keepalive: int = 60) -> bytes:
    flags = 0x04 | 0x08 | 0x20  # will, will QoS 1, will retain; clean session 0 (a persistent session)
    body = (_str("MQTT") + bytes([4, flags]) + struct.pack("!H", keepalive) + _str(client_id) + _str(will_topic)
            + _str(will))
    return _packet(0x10, body)


def publish_packet(topic: str, payload: bytes, qos: int, mid: int = 0, retain: bool = False,
                   dup: bool = False) -> bytes:
    head = 0x30 | (qos << 1) | (0x01 if retain else 0) | (0x08 if dup else 0)
    return _packet(head, _str(topic) + (struct.pack("!H", mid) if qos else b"") + payload)


def subscribe_packet(mid: int, topics: list[str], qos: int = 1) -> bytes:
    return _packet(0x82, struct.pack("!H", mid) + b"".join(_str(t) + bytes([qos]) for t in topics))


@dataclass
class Figures:
    """What the gateways saw: counted where it was sent, not where it was stored."""

    sent: dict[str, int] = field(default_factory=lambda: {"alerts": 0, "events": 0, "vitals": 0, "status": 0})
    alerts_raised: int = 0
    receipted: set[str] = field(default_factory=set)
    receipt_latency: list[float] = field(default_factory=list)  # first send -> first receipt, s
    receipt_order: list[tuple[str, float]] = field(default_factory=list)  # (alert id, latency) as receipted
    resends: int = 0
    connects: int = 0
    connect_failures: int = 0
    server_online_seen: int = 0
    suback_failures: int = 0
    configs_applied: int = 0

    def pending(self, gws: list[Gateway]) -> int:
        return sum(len(g.unreceipted) for g in gws)


class Gateway:
    def __init__(self, site: str, gid: str, brokers: list[tuple[str, int]], figures: Figures, rng: random.Random,
                 vitals_every: float = 10.0, events_every: float = 120.0, residents: int = 1,
                 resend_after: float = 30.0, subscribe_qos: int = 1) -> None:
        self.site, self.gid, self.brokers, self.fig, self.rng = site, gid, brokers, figures, rng
        self.vitals_every, self.events_every, self.resend_after = vitals_every, events_every, resend_after
        self.residents = [f"r{i + 1}" for i in range(residents)]
        self.subscribe_qos = subscribe_qos  # 0 on a NATS cluster (see docs/deploy-city.md)
        self.turn = rng.randrange(len(brokers))  # gateways spread over the cluster's nodes
        self.writer: asyncio.StreamWriter | None = None
        self.connected = asyncio.Event()
        self.subscribed = asyncio.Event()  # the broker granted every subscription: receipts can reach it
        self.mid = 0
        self.unreceipted: dict[str, tuple[bytes, float, int, float]] = {}  # id -> (payload, first, attempts, next)
        self.stop = False
        self.telemetry = True
        self.config_version = 0  # the server's desired configuration in effect
        self.config: dict[str, object] = {}
        self.software = "load"  # the version its status says
        self.update = ("", "", "")  # the last software update: version, state, reason
        self.broken_releases: set[str] = set()  # releases this box rolls back (it cannot run them)
        self.update_commands: list[str] = []  # the releases the server asked it to install
        self.qos1_sent = self.pubacks = 0  # QoS 1 publishes written, and the broker's PUBACKs for them
        self._pending = asyncio.Event()
        self._heard = time.monotonic()  # when the broker last sent anything
        self._tasks: set[asyncio.Task[None]] = set()  # there are alerts awaiting their receipt

    def topic(self, leaf: str) -> str:
        return f"{PREFIX}/{self.site}/{self.gid}/{leaf}"

    def _next_mid(self) -> int:
        self.mid = self.mid % 65535 + 1
        return self.mid

    def _msg(self, **kw: object) -> bytes:
        return json.dumps({"v": 1, "site": self.site, "gateway": self.gid, "sent_at": time.time(), **kw}).encode()

    # -- the connection ------------------------------------------------------------------------

    async def run(self, start_within: float = 0.0) -> None:
        try:
            await self._run(start_within)
        finally:
            if self.writer is not None:
                self.writer.close()

    async def _run(self, start_within: float) -> None:
        await asyncio.sleep(self.rng.uniform(0, start_within))
        delay = 1.0
        while not self.stop:
            host, port = self.brokers[self.turn]
            writer = None
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
                writer.write(connect_packet(f"eldergate-{self.site}-{self.gid}", self.topic("status"),
                                            self._msg(state="offline")))
                await writer.drain()
                head = await asyncio.wait_for(reader.readexactly(4), 15)
                if head[0] != 0x20 or head[3] != 0:
                    raise ConnectionError(f"CONNACK {head.hex()}")
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ConnectionError):
                if writer is not None:
                    writer.close()
                self.fig.connect_failures += 1
                self.turn = (self.turn + 1) % len(self.brokers)  # the cluster's next node
                await asyncio.sleep(delay * self.rng.uniform(0.5, 1.5))  # jittered: boxes must not move in step
                delay = min(30.0, delay * 2)
                continue
            delay = 1.0
            self.writer, self._heard = writer, time.monotonic()
            self.fig.connects += 1
            self._subscribe()
            self._publish_status()
            self.connected.set()
            for aid in list(self.unreceipted):  # what was in flight may have died with the node
                self._due_now(aid)
            tasks = [asyncio.create_task(t) for t in (self._telemetry(), self._resender(), self._ping())]
            try:
                await self._read(reader)
            except (TimeoutError, OSError, asyncio.IncompleteReadError):
                pass
            finally:
                self.connected.clear()
                self.subscribed.clear()
                self.writer = None
                for t in tasks:
                    t.cancel()
                writer.close()
            if not self.stop:
                self.turn = (self.turn + 1) % len(self.brokers)
                await asyncio.sleep(self.rng.uniform(0.5, 3.0))

    def _subscribe(self) -> None:
        if self.writer is not None:
            self._send(subscribe_packet(self._next_mid(), [self.topic("ack"), self.topic("cmd"), self.topic("config"),
                                                                  f"{PREFIX}/_server/status"], self.subscribe_qos))

    def _publish_status(self) -> None:
        self._publish("status", self._msg(state="online", version=self.software, unsent_alerts=len(self.unreceipted),
                                          config_version=self.config_version, update_version=self.update[0],
                                          update_state=self.update[1], update_reason=self.update[2]), retain=True)

    async def _subscribe_again(self) -> None:
        """A refused subscription (SUBACK 0x80: a busy NATS cluster times out creating its consumer)
        is tried again later, jittered; without it the receipts would never arrive."""
        self.fig.suback_failures += 1
        await asyncio.sleep(self.rng.uniform(1.0, 5.0))
        self._subscribe()

    def close(self) -> None:
        self.stop = True
        for t in self._tasks:
            t.cancel()
        if self.writer is not None:
            self._send(b"\xe0\x00")  # DISCONNECT: no will
            self.writer.close()

    def _send(self, packet: bytes) -> bool:
        """Written only to a live connection: once the broker has gone the reader notices and
        reconnects; writing on would only make asyncio complain."""
        w = self.writer
        if w is None or w.is_closing():
            return False
        w.write(packet)
        return True

    def _publish(self, leaf: str, payload: bytes, qos: int = 1, retain: bool = False, dup: bool = False) -> None:
        sent = self._send(publish_packet(self.topic(leaf), payload, qos, self._next_mid() if qos else 0, retain, dup))
        if sent and leaf in self.fig.sent:
            self.fig.sent[leaf] += 1
        if sent and qos:
            self.qos1_sent += 1

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while True:
            # no timeout per packet (asyncio.wait_for makes a task per call: a fifth of this process's
            # time during a 10,000-home replay); _ping hangs up on a broker that has gone silent
            head = await reader.readexactly(2)  # the type and a length's first byte
            self._heard = time.monotonic()
            first, b = head[0], head[1]
            n, mult = b & 0x7F, 128
            while b & 0x80:
                b = (await reader.readexactly(1))[0]
                n += (b & 0x7F) * mult
                mult *= 128
            body = await reader.readexactly(n) if n else b""
            if first >> 4 == 3:
                self._on_publish(first, body)
            elif first >> 4 == 4:
                self.pubacks += 1
            elif first >> 4 == 9 and any(code == 0x80 for code in body[2:]):
                task = asyncio.create_task(self._subscribe_again())
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            elif first >> 4 == 9:
                self.subscribed.set()

    def _on_publish(self, first: int, body: bytes) -> None:
        qos = (first >> 1) & 3
        tlen = struct.unpack("!H", body[:2])[0]
        topic = body[2:2 + tlen].decode()
        at = 2 + tlen
        if qos:
            mid = body[at:at + 2]
            at += 2
            if self.writer is not None:
                self._send(b"\x40\x02" + mid)  # PUBACK
        payload = json.loads(body[at:])
        if topic.endswith("/ack") and payload.get("kind") == "received":
            entry = self.unreceipted.pop(payload["alert_id"], None)
            if entry is not None:
                self.fig.receipted.add(payload["alert_id"])
                self.fig.receipt_latency.append(time.monotonic() - entry[1])
                self.fig.receipt_order.append((payload["alert_id"], self.fig.receipt_latency[-1]))
        elif topic.endswith("/config") and payload.get("version", 0) > self.config_version:
            # the server's desired configuration: taken as it is (a contract-level box has no schema
            # of its own to refuse it with), the version in effect said in the retained status
            self.config_version = int(payload["version"])
            self.config = payload
            self.fig.configs_applied += 1
            self._publish_status()
        elif topic.endswith("/cmd") and payload.get("command") == "update":
            # what a real box ends up saying (gateway/delivery/updates.py): kept, or rolled back by itself
            release = str(payload["release"])
            self.update_commands.append(release)
            if release in self.broken_releases:
                self.update = (release, "rolled_back", "it exited with status 1 before it was healthy")
            else:
                self.software, self.update = release, (release, "confirmed", "")
            self._publish_status()
        elif topic.endswith("_server/status") and payload.get("state") == "online" and not first & 0x01:
            self.fig.server_online_seen += 1  # a live "online": the server subscribed again
            for aid in list(self.unreceipted):
                self._due_now(aid)

    async def _ping(self) -> None:
        while True:
            await asyncio.sleep(30)
            if self.writer is not None and time.monotonic() - self._heard > 120:
                self.writer.close()  # nothing, not even a PINGRESP, for 2 min: the reader sees the end
            elif self.writer is not None:
                self._send(b"\xc0\x00")  # PINGREQ

    async def _telemetry(self) -> None:
        next_vitals = time.monotonic() + self.rng.uniform(0, self.vitals_every)
        next_event = time.monotonic() + self.rng.uniform(0, self.events_every)
        while True:
            now = time.monotonic()
            await asyncio.sleep(max(0.05, min(next_vitals, next_event) - now))
            if not self.telemetry:
                continue
            now = time.monotonic()
            if now >= next_vitals:
                for r in self.residents:
                    self._publish("vitals", self._msg(t=time.time(), resident=r, in_bed=True, quality=0.8,
                                                      heart_rate_bpm=round(self.rng.gauss(68, 6), 1),
                                                      breathing_rate_bpm=round(self.rng.gauss(15, 2), 1)), qos=0)
                next_vitals = now + self.vitals_every
            if now >= next_event:
                self._publish("events", self._msg(t=time.time(), name=self.rng.choice(("bed_exit", "bed_return")),
                                                  resident=self.residents[0], room="bedroom", sensor="bed"))
                next_event = now + self.events_every * self.rng.uniform(0.5, 1.5)

    # -- alerts --------------------------------------------------------------------------------

    def raise_alert(self, kind: str = "fall", severity: str = "critical", raised_ago_s: float = 0.0,
                    aid: str | None = None) -> str:
        """``raised_ago_s``: an alert the outbox kept through an outage, sent now (a replay)."""
        aid = aid or f"{self.gid}-{kind}-{len(self.unreceipted)}-{self.rng.getrandbits(40):x}"
        now = time.time() - raised_ago_s
        payload = dict(id=aid, kind=kind, severity=severity, state="raised", resident=self.residents[0],
                       room="living", sensor="room", started=now, raised_at=now, title_zh="跌倒", title_en="Fall")
        self.unreceipted[aid] = (json.dumps(payload).encode(), time.monotonic(), 0, 0.0)
        self.fig.alerts_raised += 1
        self._pending.set()
        self._send_alert(aid)
        return aid

    def _send_alert(self, aid: str) -> None:
        body, first, attempts, _ = self.unreceipted[aid]
        payload = json.loads(body)
        data = self._msg(**payload)
        if self.writer is not None:
            self._publish("alerts", data, dup=attempts > 0)
            if attempts:
                self.fig.resends += 1
        # the contract's back-off: 2, 4, 8 … s up to resend_after, ±25 % (gateway/delivery/uplink.py)
        delay = min(self.resend_after, 2.0 * 2 ** min(attempts, 16)) * self.rng.uniform(0.75, 1.25)
        self.unreceipted[aid] = (body, first, attempts + 1, time.monotonic() + delay)

    def _due_now(self, aid: str) -> None:
        body, first, _attempts, _ = self.unreceipted[aid]
        self.unreceipted[aid] = (body, first, 0, 0.0)
        self._pending.set()

    async def _resender(self) -> None:
        """Resends what is due, then sleeps until the next is (or an alert is raised or made due):
        waking every quarter second while anything waited cost 10,000 boxes 40,000 wake-ups a
        second during a replay, and ran the load generator's own loop seconds late."""
        while True:
            self._pending.clear()
            now = time.monotonic()
            for aid, (_b, _f, _a, due) in list(self.unreceipted.items()):
                if due <= now:
                    self._send_alert(aid)
            dues = [entry[3] for entry in self.unreceipted.values()]
            try:
                async with asyncio.timeout(max(0.05, min(dues) - time.monotonic()) if dues else None):
                    await self._pending.wait()  # (asyncio.timeout: no task per wait, as wait_for makes)
            except TimeoutError:
                pass


async def shutdown(gws: list[Gateway], tasks: list[asyncio.Task[None]]) -> None:
    """Every gateway says goodbye (no will) and its connection is closed before the loop ends:
    waited for, not slept on (on a busy machine a transport left open when the loop closed was
    reported, at the next garbage collection, in whichever test was running then)."""
    writers = [g.writer for g in gws if g.writer is not None]
    for g in gws:
        g.close()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*(w.wait_closed() for w in writers), return_exceptions=True), 10)


def brokers_of(urls: list[str]) -> list[tuple[str, int]]:
    return [(urlsplit(u).hostname or "127.0.0.1", urlsplit(u).port or 1883) for u in urls]


def fleet(n: int, urls: list[str], figures: Figures, sites: int = 10, seed: int = 7,
          **kw: object) -> list[Gateway]:
    rng = random.Random(seed)
    brokers = brokers_of(urls)
    return [Gateway(f"load-{i % sites:02d}", f"gw{i:05d}", brokers, figures, random.Random(rng.getrandbits(32)),
                    **kw)  # type: ignore[arg-type]
            for i in range(n)]


class FleetOnThread:
    """Contract-level boxes on an event loop of their own thread, without telemetry: a test calls
    the server's API and CLI meanwhile, and reaches into the boxes with ``call``."""

    def __init__(self, n: int, url: str, start_within: float = 1.0) -> None:
        self.fig = Figures()
        self.boxes = fleet(n, [url], self.fig, sites=1)
        for b in self.boxes:
            b.telemetry = False
        self.start_within = start_within
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.tasks: list[asyncio.Task[None]] = []

    def start(self, timeout: float = 60.0) -> None:
        """Until every box holds its subscriptions (receipts, commands and configurations reach it)."""
        self.thread.start()

        async def go() -> None:
            self.tasks = [asyncio.create_task(b.run(start_within=self.start_within)) for b in self.boxes]
        asyncio.run_coroutine_threadsafe(go(), self.loop).result(10)
        deadline = time.monotonic() + timeout
        while not all(b.subscribed.is_set() for b in self.boxes):
            assert time.monotonic() < deadline, "the boxes did not subscribe"
            time.sleep(0.1)  # pace: how often the test looks

    def call(self, fn: Callable[[], T]) -> T:
        """``fn`` run on the boxes' loop (their state is that loop's)."""
        async def run() -> T:
            return fn()
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(shutdown(self.boxes, self.tasks), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


async def until(cond: Callable[[], bool], timeout: float, every: float = 0.1) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        await asyncio.sleep(every)
    return cond()


def percentile(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]
