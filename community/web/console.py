"""/console: the grid worker's phone page. My open alerts first, then the community's; one tap to
acknowledge, "on my way", "arrived", resolve with an outcome and a note; the resident's contacts
as tel: links; the evidence in plain words; medical notes one tap away (each read logged). A
push's link (/console/alerts/<id>) opens the alert here. Relatives get the same pages scoped to
their elder (/family), with "I'm handling it" where the community allows it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Case, IntegerField, Q, When
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.http import require_POST

from eldergate.community.clock import now
from eldergate.community.models import Alert, Comment, Consent, Resident, Summary, Visit
from eldergate.community.models.alerts import OUTCOMES
from eldergate.community.models.audit import record
from eldergate.community.models.crypto import decrypt
from eldergate.community.web.common import lang, page
from eldergate.community.web.login import LOGIN
from eldergate.community.work import consent, scoping, workflow
from eldergate.community.work.advisories import Night, advisories
from eldergate.community.work.wall import display_name
from eldergate.community.work.words import evidence, t


def _card(a: Alert, language: str) -> dict[str, Any]:
    r = a.resident
    return {"a": a, "title": a.title_zh if language != "en" else a.title_en,
            "who": (r.name if r else (f"{a.gateway}" if a.community_id is None else "")),
            "where": str(r.home) if r else (str(a.gateway.home) if a.gateway.home_id else ""),
            "age_min": int((now() - a.raised_at).total_seconds() // 60),
            "words": evidence(a.kind, a.evidence, a.room, a.sensor, language),
            "state_text": t(f"state_{a.state}", language)}


@login_required(login_url=LOGIN)
def alerts_view(request: HttpRequest) -> HttpResponse:
    user = request.user
    language = lang(request)
    if scoping.role(user) == "relative":
        return HttpResponseRedirect("/family")
    open_qs = (scoping.alerts(user).exclude(state="resolved")
               .select_related("resident__home", "gateway__home", "community")
               .annotate(urgency=Case(When(severity="critical", then=0), When(severity="warning", then=1), default=2,
                                      output_field=IntegerField()))
               .order_by("urgency", "raised_at"))  # critical first, then the oldest
    mine_q = Q(assignee=user) | Q(resident__grid_worker=user) | Q(resident__volunteer=user)
    mine = [_card(a, language) for a in open_qs.filter(mine_q)]
    mine_ids = {c["a"].pk for c in mine}
    others = [_card(a, language) for a in open_qs if a.pk not in mine_ids]
    return page(request, "console.html", {"mine": mine, "others": others, "user": user,
                                          "refresh": True, "role": scoping.role(user)})


def _visible(request: HttpRequest, alert_id: str) -> Alert:
    a = scoping.by_ref(scoping.alerts(request.user)
                       .select_related("resident__home", "gateway__home", "community", "assignee"), alert_id)
    if a is None:
        raise Http404("no such alert")
    return a


@login_required(login_url=LOGIN)
def alert_view(request: HttpRequest, alert_id: str) -> HttpResponse:
    a = _visible(request, alert_id)
    language = lang(request)
    r = a.resident
    see_contacts = scoping.may_see_contacts(request.user)
    contacts = list(r.contacts.all()) if r and see_contacts else []
    return page(request, "alert.html", {
        "c": _card(a, language), "a": a, "resident": r, "contacts": contacts,
        "keyholder": r.home.keyholder if r and see_contacts else "", "history": list(a.history.all()),
        "comments": list(a.comments.select_related("author")),
        "outcomes": [(o, t(o, language)) for o in OUTCOMES], "may_act": scoping.may_act(request.user, a),
        "may_medical": scoping.may_read_medical(request.user),
        "relative": scoping.role(request.user) == "relative",
        "may_handle": bool(a.community and a.community.relatives_may_handle), "error": request.GET.get("error", ""),
    })


@login_required(login_url=LOGIN)
@require_POST
def alert_step(request: HttpRequest, alert_id: str) -> HttpResponse:
    a = _visible(request, alert_id)
    step = request.POST.get("step", "")
    user: Any = request.user
    back = f"/console/alerts/{a.ref}"
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
    try:
        workflow.person_step(a.pk, user, step, now(), outcome=request.POST.get("outcome", ""),
                             note=request.POST.get("note", ""))
    except workflow.WorkflowError as err:
        return HttpResponseRedirect(f"{back}?{urlencode({'error': str(err)})}")
    return HttpResponseRedirect("/console" if step == "resolve" else back)


def _resident(request: HttpRequest, pk: int) -> Resident:
    r = scoping.residents(request.user).select_related("home__community", "grid_worker").filter(pk=pk).first()
    if r is None:
        raise Http404("no such resident")
    return r


def _trend(r: Resident) -> dict[str, Any]:
    """The last 30 daily summaries of this resident, as rows and as small SVG polylines."""
    g = r.home.gateways.first()
    rows = list(Summary.objects.filter(gateway=g, resident_key=r.resident_id,
                                       period_end__gte=now() - timedelta(days=30)).order_by("period_end")) if g else []
    nights = [Night.from_figures(s.period_end, s.figures) for s in rows]

    def line(attr: str) -> str:
        vals = [getattr(n, attr) for n in nights]
        pts = [(i, v) for i, v in enumerate(vals) if v is not None]
        if len(pts) < 2:
            return ""
        lo, hi = min(v for _, v in pts), max(v for _, v in pts)
        span = (hi - lo) or 1.0
        step = 300 / max(1, len(vals) - 1)
        return " ".join(f"{i * step:.1f},{55 - (v - lo) / span * 50:.1f}" for i, v in pts)

    series = [("night_exits", "night_bed_exits"), ("sleep", "sleep_min"), ("resting_hr", "resting_heart_rate_bpm"),
              ("activity", "active_min")]
    return {"nights": nights[::-1], "lines": [(label, line(attr), [getattr(n, attr) for n in nights][-1:])
                                              for label, attr in series],
            "advisories": advisories(nights)}


@login_required(login_url=LOGIN)
def resident_view(request: HttpRequest, pk: int) -> HttpResponse:
    r = _resident(request, pk)
    user: Any = request.user
    language = lang(request)
    health = scoping.may_see_health(user, r)
    trend = _trend(r) if health else {"nights": [], "lines": [], "advisories": []}
    alerts = [_card(a, language) for a in scoping.alerts(user).filter(resident=r).select_related("gateway__home")
              .order_by("-raised_at")[:30]]
    consent_lines = [t("consent_given", language, who=c.given_by,
                       when=c.given_at.astimezone(ZoneInfo(str(settings.TIME_ZONE))).strftime("%Y-%m-%d"))
                     for c in Consent.objects.filter(resident=r, scope=consent.MONITORING, withdrawn_at__isnull=True)
                     .order_by("-given_at")[:3]]
    return page(request, "resident.html", {
        "r": r, "name": r.name, "contacts": list(r.contacts.all()) if scoping.may_see_contacts(user) else [],
        "trend": trend, "health": health, "consent_lines": consent_lines,
        "monitoring": consent.monitoring_consent(r, now()), "may_consent": scoping.may_administer(user)
        or scoping.role(user) == "grid-worker",
        "advice": [t(x.key, language, now=x.now, base=x.base) + f" ({t('since', language)} "
                   f"{x.since.astimezone().strftime('%m-%d')})" for x in trend["advisories"]],
        "alerts": alerts, "visits": list(r.visits.order_by("-at")[:20]),
        "may_medical": scoping.may_read_medical(request.user), "may_act": scoping.may_act(request.user),
        "relative": scoping.role(request.user) == "relative"})


@login_required(login_url=LOGIN)
def medical_view(request: HttpRequest, pk: int) -> HttpResponse:
    r = _resident(request, pk)
    if not scoping.may_read_medical(request.user):
        record(now(), request.user, "medical_read_refused", r, via="console")
        return HttpResponse("Medical notes are for community admins and grid workers. 病史仅限社区管理员与网格员查看。",
                            status=403, content_type="text/plain; charset=utf-8")
    record(now(), request.user, "medical_read", r, via="console")
    return page(request, "medical.html", {"r": r, "notes": [
        ("medical_history", decrypt(r.medical_history)), ("medications", decrypt(r.medications)),
        ("allergies", decrypt(r.allergies)), ("key_safe", decrypt(r.home.key_safe))]})


@login_required(login_url=LOGIN)
@require_POST
def consent_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Record or withdraw the resident's consent to monitoring (community admin, grid worker)."""
    r = _resident(request, pk)
    user: Any = request.user
    if not (scoping.may_administer(user) or scoping.role(user) == "grid-worker"):
        raise Http404("not allowed")
    if request.POST.get("action") == "withdraw":
        consent.withdraw(r, consent.MONITORING, user, now())
    else:
        given_by = request.POST.get("given_by", "").strip()[:100]
        if given_by:
            consent.give(r, consent.MONITORING, given_by, user, now())
    return HttpResponseRedirect(f"/console/residents/{r.pk}")


@login_required(login_url=LOGIN)
@require_POST
def visit_view(request: HttpRequest, pk: int) -> HttpResponse:
    r = _resident(request, pk)
    if not scoping.may_act(request.user):
        raise Http404("not allowed")
    kind = "call" if request.POST.get("kind") == "call" else "visit"
    with transaction.atomic():
        user: Any = request.user
        v = Visit.objects.create(resident=r, by=user, at=now(), kind=kind, note=request.POST.get("note", ""))
        record(now(), request.user, "visited", r, visit=v.pk, kind=kind)
    return HttpResponseRedirect(request.POST.get("back") or f"/console/residents/{r.pk}")


@login_required(login_url=LOGIN)
def visit_list(request: HttpRequest) -> HttpResponse:
    """My residents ordered by need: open alerts, advisories, offline homes, days since the last visit."""
    user: Any = request.user
    if not (scoping.may_act(user) or scoping.may_administer(user)):
        return HttpResponse("Visits are recorded by community staff and volunteers. 探访由社区工作人员与志愿者记录。",
                            status=403, content_type="text/plain; charset=utf-8")
    qs = scoping.residents(user).select_related("home__community").prefetch_related("home__gateways")
    if scoping.role(user) in ("grid-worker", "volunteer"):
        mine = qs.filter(Q(grid_worker=user) | Q(volunteer=user))
        qs = mine if mine.exists() else qs
    month_start = now().astimezone().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    rows: list[dict[str, Any]] = []
    for r in qs:
        last = r.visits.order_by("-at").first()
        open_n = Alert.objects.filter(resident=r).exclude(state="resolved").count()
        offline = any(g.offline for g in r.home.gateways.all())
        advice = len(_trend(r)["advisories"]) if scoping.may_see_health(user, r) else 0
        days = (now() - last.at).days if last else None
        rows.append({"r": r, "name": r.name, "wall_name": display_name(r, r.home.community),
                     "open": open_n, "offline": offline, "advice": advice, "days": days,
                     "month": r.visits.filter(at__gte=month_start).count()})
    def need(x: dict[str, Any]) -> tuple[int, int, bool, int]:
        return (-int(x["open"]), -int(x["advice"]), not x["offline"], -(x["days"] if x["days"] is not None else 10_000))

    rows.sort(key=need)
    done = sum(1 for x in rows if int(x["month"]) > 0)
    return page(request, "visits.html", {"rows": rows, "done": done, "total": len(rows)})


@login_required(login_url=LOGIN)
def family_view(request: HttpRequest) -> HttpResponse:
    """A relative's page: their elder only — this morning's summary in words, alerts and what was done."""
    user: Any = request.user
    if scoping.role(user) != "relative":
        return HttpResponseRedirect("/console")
    residents = list(scoping.residents(user).select_related("home__community"))
    if not residents:
        raise Http404("no resident")
    r = residents[0]
    language = lang(request)
    g = r.home.gateways.first()
    health = scoping.may_see_health(user, r)
    summary = (Summary.objects.filter(gateway=g, resident_key=r.resident_id).order_by("-period_end").first()
               if g and health else None)
    alerts = [_card(a, language) for a in scoping.alerts(user).select_related("gateway__home", "resident__home")
              .order_by("-raised_at")[:20]]
    return page(request, "family.html", {"r": r, "summary": summary.figures if summary else None,
                                         "alerts": alerts, "health": health,
                                         "trend": _trend(r) if health else {"nights": [], "lines": [],
                                                                            "advisories": []},
                                         "tz": str(settings.TIME_ZONE)})
