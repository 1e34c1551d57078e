"""/wall: the community's wall screen (数据大屏). Read-only, full screen, no keyboard: the screen's
address carries the community's wall key. The tiles are rendered here; the page listens to
/wall/events (server-sent events) and fetches /wall/tiles again when something changed, and
the browser's EventSource reconnects by itself after a server restart."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from zoneinfo import ZoneInfo

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

from eldergate.community.clock import now
from eldergate.community.config import active
from eldergate.community.models import Community
from eldergate.community.web.common import error_page, lang, page
from eldergate.community.web.feeds import FEEDS
from eldergate.community.work import scoping
from eldergate.community.work.wall import tiles


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
            "stamp": now().astimezone(ZoneInfo(str(settings.TIME_ZONE))).strftime("%H:%M:%S"),
            "tz": str(settings.TIME_ZONE), "query": request.GET.urlencode()}


def wall(request: HttpRequest) -> HttpResponse:
    c = _community(request)
    if c is None:
        return error_page(request, 403, "error_wall_key", "error_wall_key_explain")
    if FEEDS.full(_viewer(request), *_limits()):
        return too_many_screens(request)
    return page(request, "wall.html", _context(request, c))


def wall_tiles(request: HttpRequest) -> HttpResponse:
    c = _community(request)
    if c is None:
        return HttpResponse(status=403)
    return page(request, "wall_tiles.html", _context(request, c))


HEARTBEAT_S = 7.5  # a "beat" event this often: the page knows the server is alive (a comment it never sees)


def _viewer(request: HttpRequest) -> str:
    key = request.GET.get("key", "")
    if key:
        return "key:" + key[:64]
    return f"user:{getattr(request.user, 'pk', '')}"


def _limits() -> tuple[int, int]:
    s = active().server
    return s.max_streams, s.max_streams_per_viewer


def too_many_screens(request: HttpRequest) -> HttpResponse:
    return page(request, "too_many_screens.html", {}, status=503)


def _community_released(request: HttpRequest) -> Community | None:
    """The stream's community, and its database connection given back at once: each ASGI request
    runs its sync code in a thread of its own, and a stream lives for hours (500 open walls held 500
    pooled connections; the pool of 20 ran dry and /api/v1/health answered 503)."""
    try:
        return _community(request)
    finally:
        connection.close()  # with psycopg_pool: back to the pool


async def wall_events(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    c = await sync_to_async(_community_released)(request)
    if c is None:
        return HttpResponse(status=403)
    viewer = _viewer(request)
    if not FEEDS.admit(viewer, *_limits()):
        # an EventSource does not retry a 503: the page's script reloads later and shows why
        return HttpResponse("too many screens", status=503, content_type="text/plain; charset=utf-8")

    async def stream() -> AsyncIterator[str]:
        watch = FEEDS.watch(c)
        try:
            yield "retry: 2000\n\n"  # the browser reconnects after 2 s when the server went away
            yield f"event: beat\ndata: {json.dumps(now().isoformat(timespec='seconds'))}\n\n"
            seen = -1
            while not watch.closing:
                fp, version = await FEEDS.next_change(watch, seen, HEARTBEAT_S)
                if watch.closing:  # the page's watchdog shows the gap; the browser reconnects later
                    break
                if version != seen:
                    seen = version
                    yield f"event: change\ndata: {json.dumps(fp)}\n\n"
                else:  # the page's watchdog counts on it; it also keeps proxies from closing an idle stream
                    yield f"event: beat\ndata: {json.dumps(now().isoformat(timespec='seconds'))}\n\n"
        finally:
            FEEDS.unwatch(watch)
            FEEDS.release(viewer)

    return StreamingHttpResponse(stream(), content_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
