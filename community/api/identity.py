"""/api/v1/claims, /claims/collect, /identities, /gateways/{id}/revoke: boxes claimed at
installation, their credentials collected once, identities revoked (identity/issue.py).

``/claims/collect`` is the one call a box makes before it has an identity: it carries no token,
so it is rate-limited per address and answers nothing that helps a guesser (``pending`` for a
code nobody claimed, exactly as for one not yet claimed)."""

from __future__ import annotations

import threading
import time
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Router, Schema
from ninja.errors import HttpError
from pydantic import Field

from eldergate.community.api.common import user
from eldergate.community.api.schemas import Problem
from eldergate.community.clock import now
from eldergate.community.config import active
from eldergate.community.identity import issue
from eldergate.community.models import BoxIdentity
from eldergate.community.work import scoping

router = Router(tags=["identities"])
ID = r"^[A-Za-z0-9_-]{1,64}$"


class ClaimIn(Schema):
    code: str = Field(max_length=40, description="as the box shows it (XXXXX-XXXXX); case and dashes do not matter")
    site: str = Field(pattern=ID)
    gateway: str = Field(pattern=ID)


class CollectIn(Schema):
    code: str = Field(max_length=40)
    box_key: str = Field(min_length=16, max_length=128, description="the box's own secret, never shown")
    site: str = Field(pattern=ID)
    gateway: str = Field(pattern=ID)


class RevokeIn(Schema):
    reason: str = Field("removed", max_length=200)


class IdentityOut(Schema):
    username: str
    site: str
    gateway: str
    kind: str
    issued_at: Any
    issued_by: str
    collected: bool
    revoked_at: Any = None
    reason: str = ""
    unsent_alerts_at_revoke: int | None = None
    broker_told: bool


class CollectOut(Schema):
    status: str
    username: str = ""
    password: str = ""
    why: str = ""


def _out(i: BoxIdentity) -> dict[str, Any]:
    return {"username": i.username, "site": i.site, "gateway": i.box_id, "kind": i.kind, "issued_at": i.issued_at,
            "issued_by": i.issued_by, "collected": i.collected_at is not None, "revoked_at": i.revoked_at,
            "reason": i.reason, "unsent_alerts_at_revoke": i.unsent_at_revoke, "broker_told": i.applied}


class _PerAddress:
    """Token buckets per client address, bounded in number (a flood of addresses forgets the oldest)."""

    def __init__(self, rate: float, burst: float, most: int = 10_000) -> None:
        self.rate, self.burst, self.most = rate, burst, most
        self._b: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, who: str) -> bool:
        t = time.monotonic()
        with self._lock:
            tokens, last = self._b.pop(who, (self.burst, t))
            tokens = min(self.burst, tokens + (t - last) * self.rate)
            ok = tokens >= 1
            self._b[who] = (tokens - 1 if ok else tokens, t)
            while len(self._b) > self.most:
                self._b.pop(next(iter(self._b)))
            return ok


COLLECT_LIMIT = _PerAddress(rate=1.0, burst=30)  # a box polls every 5-30 s; a whole NAT of them fits


def _may_claim(request: HttpRequest) -> Any:
    u = user(request)
    if not scoping.may_claim(u):
        raise HttpError(403, "installers, community admins and the platform operator claim boxes")
    return u


@router.post("/claims", response={201: IdentityOut, 400: Problem, 403: Problem, 404: Problem},
             summary="claim the box showing this code for a home's gateway (installer)")
def claim(request: HttpRequest, body: ClaimIn) -> HttpResponse:
    u = _may_claim(request)
    if not scoping.claimable_gateways(u).filter(site=body.site, gateway=body.gateway).exists():
        raise HttpError(404, f"no gateway {body.site}/{body.gateway} in your community")
    try:
        ident = issue.claim(body.code, body.site, body.gateway, u, now())
    except issue.IdentityError as err:
        raise HttpError(400, str(err)) from None
    return JsonResponse(IdentityOut(**_out(ident)).model_dump(mode="json"), status=201)


@router.post("/claims/collect", auth=None, response={200: CollectOut, 202: CollectOut, 403: CollectOut,
                                                      429: Problem},
             summary="a box fetches the credentials of its claim (no token: the code and its own key)")
def collect(request: HttpRequest, body: CollectIn) -> HttpResponse:
    if not COLLECT_LIMIT.take(str(request.META.get("REMOTE_ADDR", "?"))):
        raise HttpError(429, "too many requests from this address: poll every few seconds at most")
    got = issue.collect(body.code, body.box_key, body.site, body.gateway, now(),
                        broker_checks=active().broker.identities != "none")
    status = {"issued": 200, "pending": 202}.get(got.status, 403)
    return JsonResponse({"status": got.status, "username": got.username, "password": got.password, "why": got.why},
                        status=status)


@router.get("/identities", response={200: list[IdentityOut], 403: Problem},
            summary="the boxes' broker identities in your scope, live and revoked")
def identities(request: HttpRequest, live: bool | None = None, limit: int = 200) -> list[dict[str, Any]]:
    u = _may_claim(request)
    qs = BoxIdentity.objects.order_by("-issued_at", "-pk")
    if scoping.role(u) != "platform-operator":
        qs = qs.filter(gateway__in=scoping.gateways(u))
    if live is not None:
        qs = qs.filter(revoked_at__isnull=live)
    return [_out(i) for i in qs[:max(1, min(limit, 1000))]]


@router.post("/gateways/{gateway_id}/revoke", response={200: IdentityOut, 403: Problem, 404: Problem},
             summary="revoke the identity of a removed or stolen box: the broker refuses it within seconds")
def revoke(request: HttpRequest, gateway_id: int, body: RevokeIn) -> dict[str, Any]:
    u = _may_claim(request)
    g = scoping.claimable_gateways(u).filter(pk=gateway_id).first()  # a removed box: any of the community's
    if g is None:
        raise HttpError(404, "no such gateway in your community")
    try:
        return _out(issue.revoke(issue.username_of(f"{g.site}/{g.gateway}"), u, now(), body.reason))
    except issue.IdentityError as err:
        raise HttpError(404, str(err)) from None
