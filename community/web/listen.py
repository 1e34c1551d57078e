"""One LISTEN connection per web process (PostgreSQL): every open event stream of this process is
woken when a NOTIFY arrives. It reconnects by itself; while it is down the streams fall back to
looking every few seconds."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import psycopg
from django.conf import settings
from psycopg.conninfo import make_conninfo

from eldergate.community.work.fanout import CHANNEL

log = logging.getLogger(__name__)


class Listener:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._thread: threading.Thread | None = None
        self.connected = threading.Event()

    def register(self, loop: asyncio.AbstractEventLoop, event: asyncio.Event) -> None:
        with self._lock:
            self._waiters.add((loop, event))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="eg-listen", daemon=True)
                self._thread.start()

    def unregister(self, loop: asyncio.AbstractEventLoop, event: asyncio.Event) -> None:
        with self._lock:
            self._waiters.discard((loop, event))

    def _wake(self) -> None:
        with self._lock:
            waiters = list(self._waiters)
        for loop, event in waiters:
            loop.call_soon_threadsafe(event.set)

    def _run(self) -> None:
        db = settings.DATABASES["default"]
        params = {"dbname": db["NAME"], "user": db["USER"], "password": db["PASSWORD"], "host": db["HOST"],
                  "port": db["PORT"]}
        conninfo = make_conninfo(**{k: str(v) for k, v in params.items() if v})
        while True:
            try:
                with psycopg.connect(conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.connected.set()
                    log.info("live updates by LISTEN/NOTIFY")
                    self._wake()  # something may have changed while we were not listening
                    for _ in conn.notifies():
                        self._wake()
            except psycopg.Error as err:
                self.connected.clear()
                log.warning("the live-update listener lost the database (%s); retrying", type(err).__name__)
                time.sleep(2)


LISTENER = Listener()
