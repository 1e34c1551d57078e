"""The server's one voice on the retained ``<prefix>/_server/status``, however many ingest
workers run.

A live "online" makes every gateway resend what is unconfirmed, and a last will "offline" tells
them the server is gone. With several workers each saying it for itself, every worker's restart
would say "offline" while the others still listen, and make every gateway resend. So one worker
owns the status: the one holding a PostgreSQL advisory lock (SQLite means one process, which
always owns it). When the owner dies its database session ends, the lock is free, another worker
takes it within a second and says "online" (its predecessor's will said "offline" in between),
and the gateways resend once, spread by their own jitter.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt

from eldergate.community.config import CommunityConfig
from eldergate.community.ingest.links import connect_kwargs, fail_over, make_client
from eldergate.contract.messages import ServerStatusMessage, server_status_topic

log = logging.getLogger("eldergate.community.ingest")
LOCK_KEY = 0x656C6465  # "elde": the advisory lock's number, the same in every worker
POLL_S = 1.0


def status_payload(state: str) -> str:
    return ServerStatusMessage(state=state, sent_at=time.time()).model_dump_json()


class OwnerLock:
    """Held by one process of all those sharing the database."""

    def __init__(self) -> None:
        self._conn: Any = None
        self._held = False
        self._warned = False
        self._said_other = False

    def try_hold(self) -> bool:
        from django.db import connections

        db = connections["default"]
        if db.vendor != "postgresql":
            return True
        try:
            if self._held and self._conn is not None and not self._conn.closed:
                self._conn.execute("SELECT 1")  # the session, and so the lock, is still ours
                return True
            if self._conn is None or self._conn.closed:
                import psycopg

                # a session of its own: Django's connections come and go, the lock must not
                self._conn = psycopg.connect(**db.get_connection_params(), autocommit=True)
            row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()
            self._held, self._warned = bool(row and row[0]), False
            if not self._held and not self._said_other:  # once: an operator (and a test) knows it looked
                log.info("server status: another ingest process owns it; this one stays silent")
            self._said_other = not self._held
            return self._held
        except Exception as err:  # noqa: BLE001  (any database failure means: not the owner now)
            if not self._warned:  # once per outage, not twice a second
                log.warning("status ownership: database unreachable (%s)", (str(err).splitlines() or [""])[0][:120])
            self._warned = True
            self.release()
            return False

    def release(self) -> None:
        self._held = False
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001
                pass
            self._conn = None


class ServerPresence:
    """Run in a thread: takes ownership when it can and the ingest is ready, then says "online"."""

    def __init__(self, cfg: CommunityConfig, ready: Callable[[], bool], client_suffix: str = "",
                 on_online: Callable[[], None] | None = None) -> None:
        self.cfg, self.ready, self.on_online = cfg, ready, on_online
        self.lock = OwnerLock()
        self.owner = threading.Event()
        self.topic = server_status_topic(cfg.broker.prefix)
        b = cfg.broker
        self.client, self.urls = make_client(b, f"{b.client_id}-status{client_suffix}", persistent=False)
        self.client.will_set(self.topic, status_payload("offline"), qos=1, retain=True)
        fail_over(self.client, self.urls)
        self.client.on_connect = self._on_connect
        self._said_online = False

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any = None) -> None:
        if getattr(rc, "is_failure", False):
            log.warning("the broker refused the status connection: %s", rc)
            return
        client.publish(self.topic, status_payload("online"), qos=1, retain=True)
        log.info("server status: online (this process owns it)")
        if self.on_online is not None:
            self.on_online()

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(POLL_S if self.owner.is_set() else POLL_S * 0.5):
            held = self.ready() and self.lock.try_hold()
            if held and not self.owner.is_set():
                self.owner.set()
                first, session = self.urls[0], connect_kwargs(self.cfg.broker, persistent=False)
                self.client.connect_async(first.host, first.port, 30, **session)
                self.client.loop_start()
            elif not held and self.owner.is_set():
                self.owner.clear()  # another worker speaks now; leave without a will
                self.client.disconnect()
                self.client.loop_stop()
        if self.owner.is_set() and self.client.is_connected():
            self.client.publish(self.topic, status_payload("offline"), qos=1, retain=True).wait_for_publish(2)
            self.client.disconnect()
            self.client.loop_stop()
        self.lock.release()

