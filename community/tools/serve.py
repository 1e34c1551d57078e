"""``eldergate community serve``: web, ingest and timers in one process (the embedded default), or
one of them with ``--role web|ingest|escalation`` for split processes on PostgreSQL."""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Any

from eldergate.community.clock import SystemClock
from eldergate.community.config import CommunityConfig
from eldergate.community.ingest.jetstream import JetStreamIngest
from eldergate.community.ingest.links import connect_kwargs, fail_over, make_client
from eldergate.community.ingest.mqtt import Ingest, MqttPublisher
from eldergate.community.ingest.presence import ServerPresence
from eldergate.community.work import liveness
from eldergate.community.work.notify import AppriseNotifier
from eldergate.community.work.timers import Timers

log = logging.getLogger("eldergate.community")
ROLES = ("all", "web", "ingest", "escalation")


def serve(cfg: CommunityConfig, role: str = "all") -> int:
    clock = SystemClock()
    stop = threading.Event()
    ingest: Ingest | JetStreamIngest | None = None
    timers: Timers | None = None
    extra_client: Any = None
    extra_clients: list[Any] = []
    presence_thread: threading.Thread | None = None
    if role in ("all", "ingest"):
        suffix = "" if role == "all" else f"-ingest-{_pid()}"
        ingest = JetStreamIngest(cfg, clock, suffix) if cfg.broker.nats_urls else Ingest(cfg, clock, suffix)
        liveness.STATE.broker = ingest.connected.is_set
        counts = ingest.counts
        liveness.STATE.counts = lambda: dict(counts)
        liveness.STATE.behind_limit_s = cfg.ingest.behind_s
        lanes, drops = ingest.lanes, ingest.drops
        liveness.STATE.behind = lanes.oldest_age
        liveness.STATE.load = lambda: {"queued": lanes.depth(), "shed": dict(lanes.shed),
                                       "shedding": lanes.shedding(), **drops.health()}
        ingest.start(liveness.supervise)
        presence = ServerPresence(cfg, ingest.connected.is_set, suffix or f"-{_pid()}")
        presence_thread = threading.Thread(target=presence.run, args=(stop,), name="eg-presence", daemon=True)
        presence_thread.start()
    if role in ("all", "ingest") and cfg.broker.identities == "dynsec":
        extra_clients.append(_identities(cfg, stop))
    if role in ("all", "escalation"):
        publisher = ingest.publisher if isinstance(ingest, Ingest) else None
        if publisher is None:  # acknowledgements and test commands go out over MQTT, at QoS 1
            extra_client, nodes = make_client(cfg.broker, f"{cfg.broker.client_id}-timers-{_pid()}", persistent=False)
            fail_over(extra_client, nodes)
            extra_client.connect_async(nodes[0].host, nodes[0].port, 30, **connect_kwargs(cfg.broker, persistent=False))
            extra_client.loop_start()
            publisher = MqttPublisher(extra_client)
            if ingest is None:
                liveness.STATE.broker = extra_client.is_connected
        timers = Timers(cfg, clock, AppriseNotifier(), publisher)
        if ingest is not None:
            ingest.wake = timers.wake
            from eldergate.community.work.workflow import on_change

            on_change(lambda _aid: timers.wake.set())  # an acknowledgement goes out at once
        clockwork = timers
        liveness.supervise(liveness.Task("eg-timers", lambda task: clockwork.run(stop, task=task), stop))

    stall = max(60.0, 2 * float(os.environ.get("WATCHDOG_USEC", "0") or 0) / 1e6)
    liveness.supervise(liveness.Task("eg-watchdog", liveness.watchdog, stop, stall_s=stall))

    if role in ("all", "web"):
        import uvicorn

        _Server = _server_class()
        host, port = cfg.server.host_port()
        server = _Server(uvicorn.Config("eldergate.community.asgi:application", host=host, port=port,
                                        log_level="warning", lifespan="off", access_log=False,
                                        timeout_graceful_shutdown=GRACEFUL_S))
        log.info("community server: serving http://%s:%d (database %s, broker %s, role %s)", host, port,
                 _db_name(cfg), cfg.broker.url, role)
        # uvicorn handles SIGINT/SIGTERM while it serves, then raises the signal again for the handler
        # that was there before: this one, so the cleanup below runs (presence's last word, the ingest)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        server.run()
    else:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        log.info("community server: %s process running (database %s, broker %s)", role, _db_name(cfg), cfg.broker.url)
        stop.wait()
    stop.set()
    if presence_thread is not None:
        presence_thread.join(5)  # its last word ("offline") goes out before the process does
    if ingest is not None:
        ingest.stop()
    for c in [extra_client, *extra_clients]:
        if c is not None:
            c.disconnect()
            c.loop_stop()
    return 0


GRACEFUL_S = 3  # then uvicorn cancels what is still running: a stop never waits for a screen


def _server_class() -> Any:
    import asyncio

    import uvicorn

    from eldergate.community.web.feeds import FEEDS

    class Server(uvicorn.Server):
        """Ends the wall's event streams as soon as the stop signal comes (uvicorn would otherwise wait
        for them: they never end by themselves)."""

        def handle_exit(self, sig: int, frame: Any) -> None:
            super().handle_exit(sig, frame)
            try:
                asyncio.get_running_loop().call_soon_threadsafe(FEEDS.close_all)
            except RuntimeError:  # the signal came outside the loop (before it ran): nothing is open
                pass

    return Server


def _identities(cfg: CommunityConfig, stop: threading.Event) -> Any:
    """The broker learns every box identity from the database (identity/broker.py)."""
    from eldergate.community.identity.broker import Identities

    client, nodes = make_client(cfg.broker, f"{cfg.broker.client_id}-identities-{_pid()}", persistent=False)
    fail_over(client, nodes)
    identities = Identities(client, cfg.broker.prefix)
    client.on_connect = lambda *_a: identities.subscribe()
    client.connect_async(nodes[0].host, nodes[0].port, 30, **connect_kwargs(cfg.broker, persistent=False))
    client.loop_start()
    liveness.supervise(liveness.Task("eg-identities", lambda task: identities.run(stop, task), stop))
    return client


def _pid() -> int:
    import os

    return os.getpid()


def _db_name(cfg: CommunityConfig) -> str:
    db = cfg.server.database
    if "@" in db:  # never a password in the log
        scheme, rest = db.split("://", 1)
        return f"{scheme}://…@{rest.split('@', 1)[1]}"
    return db
