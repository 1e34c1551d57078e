"""The API object: routers, health, statistics, audit."""

from __future__ import annotations

from typing import Any

from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI
from ninja.errors import HttpError

from eldergate.community.api import alerts, identity, positions, registry
from eldergate.community.api.auth import BearerToken
from eldergate.community.api.common import parse_time, user
from eldergate.community.models import AuditEntry
from eldergate.community.work import liveness, scoping, stats

api = NinjaAPI(title="eldergate community API", version="1", urls_namespace="api-v1", auth=BearerToken(),
               description="Alerts from the homes and what people do about them. Token: "
                           "`eldergate community create-user NAME --role ROLE --token`.")
api.add_router("", alerts.router)
api.add_router("", registry.router)
api.add_router("", identity.router)
api.add_router("", positions.router)


@api.get("/health", auth=None, tags=["health"],
         summary="200 while all is well: database, broker, every task, ingest in time")
def health(request: HttpRequest) -> HttpResponse:
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
        db = True
    except DatabaseError:
        db = False
    broker = liveness.broker_connected()
    problems = liveness.problems()
    ok = db and broker is not False and not problems
    body: dict[str, Any] = {"ok": ok, "database": db, "broker": broker, "problems": problems,
                            "warnings": liveness.warnings(),
                            "tasks": liveness.tasks(), "ingest": liveness.counts(),
                            "ingest_behind_s": round(liveness.STATE.behind(), 1), "load": liveness.load()}
    return JsonResponse(body, status=200 if ok else 503)


@api.get("/stats", tags=["statistics"], summary="response times, share within target, misses, false alarms")
def response_stats(request: HttpRequest, since: str | None = None, until: str | None = None,
                   community: str | None = None) -> dict[str, Any]:
    qs = scoping.alerts(user(request))
    if community:
        qs = qs.filter(community__code=community)
    return stats.response(qs, parse_time(since), parse_time(until))


@api.get("/audit", tags=["audit"], summary="the audit trail (platform operator), newest first")
def audit(request: HttpRequest, action: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    if scoping.role(user(request)) != "platform-operator":
        raise HttpError(403, "the audit trail is for the platform operator")
    qs = AuditEntry.objects.order_by("-at", "-pk")
    if action:
        qs = qs.filter(action=action)
    return [{"at": e.at, "actor": e.actor_name, "action": e.action, "object": f"{e.object_type}:{e.object_id}",
             "details": e.details} for e in qs[:max(1, min(limit, 1000))]]
