"""The wall's live feed in one web process: one watcher per community, shared by every open
/wall/events stream of it, and a cap on open streams.

Before, each stream looked at the database itself every 0.25 s: 200 open walls made 800 queries a
second on the one thread Django's sync code runs on, and `/api/v1/health` took 0.9-2.5 s. Now a
community's fingerprint is computed once per tick whatever the number of screens, and a stream
costs an idle coroutine. Streams are capped per viewer (a wall key, a user) and in total; past the
cap the page says "too many screens" (and the server stays responsive for everyone else)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async
from django.db import connection

from eldergate.community.models import Community
from eldergate.community.web.listen import LISTENER
from eldergate.community.work.fanout import live_by_notify
from eldergate.community.work.wall import fingerprint

POLL_S = 0.25  # SQLite (one process): how often a community's watcher looks for a change
NOTIFY_FALLBACK_S = 5.0  # PostgreSQL: woken by NOTIFY; looks anyway this often (ages move, a listener may be down)


@dataclass
class _Watch:
    community: Community
    fp: str = ""
    version: int = 0
    viewers: int = 0
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    task: asyncio.Task[None] | None = None
    closing: bool = False


def _look_released(c: Community) -> str:
    """A community's fingerprint; the connection goes back to the pool after each look (a watcher
    runs in the thread of the stream that started it, for as long as any screen is open)."""
    try:
        return fingerprint(c)
    finally:
        connection.close()


class WallFeeds:
    """Per event loop (uvicorn runs one): the watchers and the open streams."""

    def __init__(self, look: Callable[[Community], str] = _look_released) -> None:
        self._look = look
        self._watches: dict[int, _Watch] = {}
        self._open: Counter[str] = Counter()

    @property
    def open_streams(self) -> int:
        return sum(self._open.values())

    def admit(self, viewer: str, max_total: int, max_per_viewer: int) -> bool:
        if self.open_streams >= max_total or self._open[viewer] >= max_per_viewer:
            return False
        self._open[viewer] += 1
        return True

    def release(self, viewer: str) -> None:
        self._open[viewer] -= 1
        if self._open[viewer] <= 0:
            del self._open[viewer]

    def full(self, viewer: str, max_total: int, max_per_viewer: int) -> bool:
        return self.open_streams >= max_total or self._open[viewer] >= max_per_viewer

    def watch(self, community: Community) -> _Watch:
        w = self._watches.get(community.pk)
        if w is None:
            w = self._watches[community.pk] = _Watch(community)
        w.viewers += 1
        if w.task is None or w.task.done():
            w.task = asyncio.get_running_loop().create_task(self._run(w), name=f"wall-watch-{community.pk}")
        return w

    def unwatch(self, w: _Watch) -> None:
        w.viewers -= 1
        if w.viewers <= 0:
            self._watches.pop(w.community.pk, None)
            if w.task is not None:
                w.task.cancel()

    async def next_change(self, w: _Watch, seen: int, timeout: float) -> tuple[str, int]:
        """The fingerprint and its version once it differs from ``seen``, or the same after ``timeout``
        (or at once when the server is shutting down: see ``closing``)."""
        async with w.changed:
            try:
                await asyncio.wait_for(w.changed.wait_for(lambda: w.version != seen or w.closing), timeout)
            except TimeoutError:
                pass
            return w.fp, w.version

    def close_all(self) -> None:
        """The server is stopping: every open stream ends now, so the process does not wait for
        the screens (an endless stream would hold a graceful shutdown forever). Called on the loop."""
        for w in list(self._watches.values()):
            w.closing = True
            asyncio.get_running_loop().create_task(self._wake(w))

    @staticmethod
    async def _wake(w: _Watch) -> None:
        async with w.changed:
            w.changed.notify_all()

    async def _run(self, w: _Watch) -> None:
        by_notify = live_by_notify()
        loop, woken = asyncio.get_running_loop(), asyncio.Event()
        if by_notify:
            LISTENER.register(loop, woken)
        try:
            while w.viewers > 0:
                fp = await sync_to_async(self._look)(w.community)
                if fp != w.fp:
                    async with w.changed:
                        w.fp, w.version = fp, w.version + 1
                        w.changed.notify_all()
                try:
                    await asyncio.wait_for(woken.wait(), timeout=NOTIFY_FALLBACK_S if by_notify else POLL_S)
                except TimeoutError:
                    pass
                woken.clear()
        finally:
            if by_notify:
                LISTENER.unregister(loop, woken)


FEEDS = WallFeeds()
