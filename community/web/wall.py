"""/wall: the community's wall screen (数据大屏). Read-only, full screen, no keyboard: the screen's
address carries the community's wall key. The tiles are rendered here; the page listens to
/wall/events (server-sent events) and fetches /wall/tiles again when something changed, and
the browser's EventSource reconnects by itself after a server restart."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

from eldergate.community.clock import now
from eldergate.community.models import Community
from eldergate.community.web.common import lang, page
from eldergate.community.web.listen import LISTENER
from eldergate.community.work import scoping
from eldergate.community.work.fanout import live_by_notify
from eldergate.community.work.wall import fingerprint, tiles

POLL_S = 0.25  # SQLite (one process): how often the event stream looks for a change
NOTIFY_FALLBACK_S = 5.0  # PostgreSQL: woken by NOTIFY; looks anyway this often (ages move, a listener may be down)


def _community(request: HttpRequest) -> Community | None:
    key = request.GET.get("key", "")
    if key:
        return Community.objects.filter(wall_key=key).first()
    user = request.user
    if getattr(user, "is_authenticated", False) and scoping.may_see_wall(user):  # not relatives, installers
        code = request.GET.get("community")
        qs = scoping.communities(user)
        return (qs.filter(code=code) if code else qs).order_by("pk").first()
    return None


def _context(request: HttpRequest, c: Community) -> dict[str, Any]:
    language = lang(request)
    ts = tiles(c, now(), str(settings.TIME_ZONE), language)
    return {"community": c, "tiles": ts, "alert_count": sum(1 for x in ts if x["alerts"]),
            "offline_count": sum(1 for x in ts if x["offline"]),
            "stamp": now().astimezone().strftime("%H:%M:%S"), "query": request.GET.urlencode()}


def wall(request: HttpRequest) -> HttpResponse:
    c = _community(request)
    if c is None:
        return HttpResponse("This screen needs its address with the wall key (/wall?key=...).", status=403,
                            content_type="text/plain; charset=utf-8")
    return page(request, "wall.html", _context(request, c))


def wall_tiles(request: HttpRequest) -> HttpResponse:
    c = _community(request)
    if c is None:
        return HttpResponse(status=403)
    return page(request, "wall_tiles.html", _context(request, c))


async def wall_events(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    c = await sync_to_async(_community)(request)
    if c is None:
        return HttpResponse(status=403)

    by_notify = live_by_notify()

    async def stream() -> AsyncIterator[str]:
        yield "retry: 2000\n\n"  # the browser reconnects after 2 s when the server went away
        loop, woken = asyncio.get_running_loop(), asyncio.Event()
        if by_notify:
            LISTENER.register(loop, woken)
        last, quiet = "", 0.0
        try:
            while True:
                fp = await sync_to_async(fingerprint)(c)
                if fp != last:
                    last, quiet = fp, 0.0
                    yield f"event: change\ndata: {json.dumps(fp)}\n\n"
                elif quiet >= 7.5:
                    quiet = 0.0
                    yield ": still here\n\n"  # keeps proxies from closing an idle stream
                wait = NOTIFY_FALLBACK_S if by_notify else POLL_S
                try:
                    await asyncio.wait_for(woken.wait(), timeout=wait)
                except TimeoutError:
                    pass
                woken.clear()
                quiet += wait
        finally:
            if by_notify:
                LISTENER.unregister(loop, woken)

    return StreamingHttpResponse(stream(), content_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
