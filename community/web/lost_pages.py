"""The console's side of finding a lost resident (#35): the badge page of a resident (print,
reissue, revoke) and the panel on a lost-resident alert (photo with consent, how they look, what
calms them, when the box last saw them go out, where the finder is, the locator's positions)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from eldergate.community.clock import now
from eldergate.community.config import active
from eldergate.community.models import Alert, Badge, Resident
from eldergate.community.models.audit import record
from eldergate.community.models.crypto import decrypt
from eldergate.community.web.common import page
from eldergate.community.work import consent, desired_config, lost, scoping
from eldergate.community.work.words import since

PHOTO = "photo"  # the consent scope for showing a resident's photo to responders


def _local(t: Any) -> str:
    return t.astimezone(ZoneInfo(str(settings.TIME_ZONE))).strftime("%m-%d %H:%M") if t else ""


@login_required
def badge_view(request: HttpRequest, pk: int) -> HttpResponse:
    r = scoping.residents(request.user).select_related("home__community").filter(pk=pk).first()
    if r is None:
        raise Http404("no such resident")
    user: Any = request.user
    if not (scoping.may_act(user) or scoping.may_administer(user)) or scoping.role(user) == "volunteer":
        raise Http404("not allowed")
    if request.method == "POST":
        if request.POST.get("action") == "profile":  # what a responder needs to recognise and calm them
            r.appearance = request.POST.get("appearance", "").strip()[:500]
            r.calming = request.POST.get("calming", "").strip()[:500]
            at_risk = request.POST.get("at_risk") == "1"
            with transaction.atomic():
                if at_risk != r.at_risk_of_getting_lost:  # the box watches outings by it: it is sent the change
                    desired_config.changed(r.home, now(), user, "at_risk_of_getting_lost", resident=r.pk)
                r.at_risk_of_getting_lost = at_risk
                r.save(update_fields=["appearance", "calming", "at_risk_of_getting_lost"])
                record(now(), user, "lost_profile_updated", r)
        elif request.POST.get("action") == "revoke":
            lost.revoke_badges(r, user, now())
        else:
            lost.issue_badge(r, user, now())
        return HttpResponseRedirect(reverse("resident-badge", args=[r.pk]))
    badge = Badge.objects.filter(resident=r, revoked_at__isnull=True).order_by("-created_at").first()
    url = lost.badge_url(active(), badge) if badge else ""
    svg = ""
    if badge:
        import segno

        svg = segno.make(url, error="m").svg_inline(scale=6, dark="#000")
    record(now(), user, "lost_profile_read", r, via="badge page")
    return page(request, "badge.html", {"r": r, "badge": badge, "url": url, "qr": svg,
                                        "hotline": r.home.community.hotline,
                                        "appearance": decrypt(r.appearance), "calming": decrypt(r.calming)})


def lost_panel(a: Alert, r: Resident | None, user: Any, language: str) -> dict[str, Any] | None:
    """What a responder needs to find the resident, on a not-back, wandering or found alert."""
    if r is None or a.kind not in lost.LOST_KINDS or not scoping.may_see_contacts(user):
        return None
    ev = a.evidence if isinstance(a.evidence, dict) else {}
    record(now(), user, "lost_profile_read", r, alert=a.pk)  # appearance and calming are personal: audited
    lat, lon = ev.get("latitude"), ev.get("longitude")
    return {
        "photo": bool(r.photo) and consent.live([r.pk], PHOTO, now()) == {r.pk},
        "photo_url": r.photo.url if r.photo else "",
        "appearance": decrypt(r.appearance), "calming": decrypt(r.calming),
        "last_left": _local(lost.last_left(r)),
        "finder": {"lat": lat, "lon": lon, "accuracy": ev.get("accuracy_m"), "phone": ev.get("finder_phone", "")}
        if isinstance(lat, (int, float)) or ev.get("finder_phone") else None,
        "positions": [{"at": _local(p.t), "ago": since((now() - p.t).total_seconds(), _local(p.t), language),
                       "lat": p.latitude, "lon": p.longitude, "accuracy": p.accuracy_m}
                      for p in lost.recent_positions(r)],
    }
