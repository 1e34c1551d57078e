"""/console: the grid worker's phone page for alerts. My open alerts first, then the community's;
one tap to acknowledge, "on my way", "arrived", resolve with an outcome and a note; the resident's
contacts as tel: links; the evidence in plain words. A push's link (the page named "alert") opens
the alert here. The resident's own pages are in residents.py, a relative's in family.py."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Case, IntegerField, Q, When
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from eldergate.community.clock import now
from eldergate.community.models import Alert, Comment, Resident
from eldergate.community.models.alerts import OUTCOMES
from eldergate.community.models.audit import record
from eldergate.community.web.common import lang, page
from eldergate.community.web.lost_pages import lost_panel
from eldergate.community.work import scoping, workflow
from eldergate.community.work.names import Names
from eldergate.community.work.words import T, evidence, since, t
from eldergate.contract.alert_kinds import facets


def alert_card(a: Alert, language: str, names: Names) -> dict[str, Any]:
    """``names``: one per page, so a list of cards looks each person up once."""
    r = a.resident
    kind = facets(a.kind)
    local = a.raised_at.astimezone(ZoneInfo(str(settings.TIME_ZONE)))
    return {"a": a, "title": (a.title_zh or (kind.zh if kind else a.kind)) if language != "en"
            else (a.title_en or (kind.en if kind else a.kind)),
            "who": r.name if r else t("no_resident_home", language),
            "where": str(r.home) if r else (str(a.gateway.home) if a.gateway.home_id else ""),
            "since": since((now() - a.raised_at).total_seconds(), local.strftime("%m-%d %H:%M"), language),
            "urgency": t(f"sev_{a.severity}", language) if f"sev_{a.severity}" in T else "",
            "acknowledged_by": names.person(a.acknowledged_by),
            "outcome": t(a.outcome, language) if a.outcome in OUTCOMES else "",
            "words": evidence(a.kind, a.evidence, a.room, a.sensor, language),
            "state_text": t(f"state_{a.state}", language)}


@login_required
def alerts_view(request: HttpRequest) -> HttpResponse:
    user = request.user
    language = lang(request)
    if scoping.role(user) == "relative":
        return HttpResponseRedirect(reverse("family"))
    open_qs = (scoping.alerts(user).exclude(state="resolved")
               .select_related("resident__home", "gateway__home", "community")
               .annotate(urgency=Case(When(severity="critical", then=0), When(severity="warning", then=1), default=2,
                                      output_field=IntegerField()))
               .order_by("urgency", "raised_at"))  # critical first, then the oldest
    mine_q = Q(assignee=user) | Q(resident__grid_worker=user) | Q(resident__volunteer=user)
    names = Names(language)
    mine = [alert_card(a, language, names) for a in open_qs.filter(mine_q)]
    mine_ids = {c["a"].pk for c in mine}
    others = [alert_card(a, language, names) for a in open_qs if a.pk not in mine_ids]
    unacknowledged = sum(1 for c in [*mine, *others] if not c["a"].acknowledged_at and not c["a"].test)
    return page(request, "console.html", {"mine": mine, "others": others, "user": user,
                                          "unacknowledged": unacknowledged, "role": scoping.role(user),
                                          "live": scoping.may_see_wall(user)})


def _visible(request: HttpRequest, alert_id: str) -> Alert:
    a = scoping.by_ref(scoping.alerts(request.user)
                       .select_related("resident__home", "gateway__home", "community", "assignee"), alert_id)
    if a is None:
        raise Http404("no such alert")
    return a


PHONE = re.compile(r"\+?\d[\d\- ]{5,}\d")  # a phone number written into free text ("王阿姨 138-0000-0000")


def contact_calls(r: Resident | None, language: str) -> list[dict[str, Any]]:
    """The resident's contacts in calling order, each with a tel: link; the keyholder named as such."""
    if r is None:
        return []
    out = [{"name": ct.name, "role": t(f"role_{ct.role}", language) if f"role_{ct.role}" in T else ct.role,
            "phone": ct.phone, "tel": re.sub(r"[^\d+]", "", ct.phone), "keyholder": ct.is_keyholder}
           for ct in r.contacts.all() if ct.phone]
    free = r.home.keyholder.strip()
    m = PHONE.search(free)
    if free and not any(c["keyholder"] for c in out):  # the home's keyholder, written as "name phone"
        out.append({"name": PHONE.sub("", free).strip(" ,，:："), "role": t("keyholder", language),
                    "phone": m.group(0) if m else "", "tel": re.sub(r"[^\d+]", "", m.group(0)) if m else "",
                    "keyholder": True})
    return out


def _alert_resident(a: Alert) -> Resident | None:
    """The alert's resident, or for a home's alert (offline, a sensor) the home's first resident:
    somebody to call all the same."""
    if a.resident is not None:
        return a.resident
    home = a.gateway.home if a.gateway_id and a.gateway.home_id else None
    return Resident.objects.filter(home=home).select_related("home").order_by("pk").first() if home else None


@login_required
def alert_view(request: HttpRequest, alert_id: str) -> HttpResponse:
    a = _visible(request, alert_id)
    language = lang(request)
    r = _alert_resident(a)
    see_contacts = scoping.may_see_contacts(request.user)
    kind = facets(a.kind)
    names = Names(language)
    history = [{"at": h.at, "state": t(f"state_{h.state}", language) if f"state_{h.state}" in T else h.state,
                "by": names.actor(h.by, h.source)} for h in a.history.all()]
    return page(request, "alert.html", {
        "c": alert_card(a, language, names), "a": a, "resident": r,
        "calls": contact_calls(r, language) if see_contacts else [],
        "history": history, "urgency": t(f"sev_{a.severity}", language) if f"sev_{a.severity}" in T else "",
        "steps": (kind.steps_zh if language != "en" else kind.steps_en) if kind else (),
        "emergency": kind.emergency if kind else None,
        "comments": [{"at": cm.at, "by": names.person(cm.author.username if cm.author else ""), "text": cm.text}
                     for cm in a.comments.select_related("author")],
        "outcome_text": t(a.outcome, language) if a.outcome in OUTCOMES else "",
        "lost": lost_panel(a, r, request.user, language),
        "outcomes": [(o, t(o, language)) for o in OUTCOMES], "may_act": scoping.may_act(request.user, a),
        "may_medical": scoping.may_read_medical(request.user), "may_access": see_contacts and r is not None
        and scoping.role(request.user) != "relative",
        "relative": scoping.role(request.user) == "relative",
        "may_handle": bool(a.community and a.community.relatives_may_handle),
        "error": t("outcome_required", language) if request.GET.get("error") == "outcome" else
        request.GET.get("error", "")[:200],
    })


@login_required
@require_POST
def alert_step(request: HttpRequest, alert_id: str) -> HttpResponse:
    a = _visible(request, alert_id)
    step = request.POST.get("step", "")
    user: Any = request.user
    back = reverse("alert", args=[a.ref])
    if step == "handling" and scoping.role(user) == "relative":
        if not (a.community and a.community.relatives_may_handle):
            raise Http404("not allowed here")
        with transaction.atomic():
            Comment.objects.create(alert=a, author=user, at=now(), text=t("handled_by_relative", "zh-hans"))
            record(now(), user, "relative_handling", a)
            workflow.changed(a)
        return HttpResponseRedirect(back)
    if step == "comment":
        try:
            workflow.comment(a.pk, user, request.POST.get("text", ""), now())
        except workflow.WorkflowError as err:
            return HttpResponseRedirect(f"{back}?{urlencode({'error': str(err)})}")
        return HttpResponseRedirect(back)
    if not scoping.may_act(user, a):
        raise Http404("not allowed")
    if step == "resolve" and request.POST.get("outcome", "") not in OUTCOMES:
        return HttpResponseRedirect(f"{back}?error=outcome")  # no default outcome: a person chooses one
    try:
        workflow.person_step(a.pk, user, step, now(), outcome=request.POST.get("outcome", ""),
                             note=request.POST.get("note", ""))
    except workflow.WorkflowError as err:
        return HttpResponseRedirect(f"{back}?{urlencode({'error': str(err)})}")
    return HttpResponseRedirect(reverse("console") if step == "resolve" else back)
