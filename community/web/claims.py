"""/console/claim: the installer's page. The box shows a code; the installer types it here and
picks the home the box is in; the box then collects its broker credentials by itself
(identity/issue.py). The same scoping as the API: only homes of one's own community."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse

from eldergate.community.clock import now
from eldergate.community.identity import issue
from eldergate.community.models import BoxIdentity
from eldergate.community.web.common import lang, page
from eldergate.community.work import scoping
from eldergate.community.work.words import t


@login_required
def claim_view(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    language = lang(request)
    if not scoping.may_claim(user):
        return page(request, "claim.html", {"error": t("claim_not_allowed", language), "gateways": [],
                                            "recent": []}, status=403)
    gateways = scoping.claimable_gateways(user).select_related("home").order_by("site", "gateway")
    message, error = "", ""
    if request.method == "POST" and request.POST.get("revoke"):  # the box was removed, or stolen
        username = str(request.POST.get("revoke"))[:140]
        live = BoxIdentity.objects.filter(username=username, revoked_at__isnull=True).first()
        if live is not None and (scoping.role(user) == "platform-operator" or
                                 gateways.filter(pk=live.gateway_id or -1).exists()):
            gone = issue.revoke(username, user, now(), str(request.POST.get("reason", "removed"))[:200] or "removed")
            message = t("revoked_done", language, username=gone.username, unsent=gone.unsent_at_revoke or 0)
        else:
            error = t("claim_refused", language, why="no such live identity in your community")
    elif request.method == "POST":
        chosen = str(request.POST.get("gateway", ""))[:20]
        gw = gateways.filter(pk=int(chosen)).first() if chosen.isdigit() else None
        try:
            if gw is None:
                raise issue.IdentityError("no such home in your community")
            ident = issue.claim(str(request.POST.get("code", ""))[:40], gw.site, gw.gateway, user, now())
            message = t("claim_done", language, username=ident.username)
        except issue.IdentityError as err:
            error = t("claim_refused", language, why=str(err))
    recent = BoxIdentity.objects.order_by("-issued_at", "-pk")
    if scoping.role(user) != "platform-operator":
        recent = recent.filter(gateway__in=scoping.gateways(user))
    return page(request, "claim.html", {"gateways": gateways[:2000], "message": message, "error": error,
                                        "recent": recent[:20]})
