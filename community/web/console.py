"""/console: the grid worker's phone page. My open alerts first, then the community's; one tap to
acknowledge, "on my way", "arrived", resolve with an outcome and a note; the resident's contacts
as tel: links; the evidence in plain words; medical notes one tap away (each read logged). A
push's link (/console/alerts/<id>) opens the alert here. Relatives get the same pages scoped to
their elder (/family), with "I'm handling it" where the community allows it."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Case, IntegerField, Q, When
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.views.decorators.http import require_POST
from pydantic import ValidationError

from eldergate.community.clock import now
from eldergate.community.models import Alert, Comment, Consent, Event, Resident, Summary, Visit
from eldergate.community.models.alerts import OUTCOMES
from eldergate.community.models.audit import record
from eldergate.community.models.crypto import decrypt
from eldergate.community.web.common import error_page, lang, page
from eldergate.community.web.login import LOGIN
from eldergate.community.web.lost_pages import lost_panel
from eldergate.community.work import consent, desired_config, scoping, workflow
from eldergate.community.work.advisories import Night, advisories
from eldergate.community.work.lost import LOST_KINDS
from eldergate.community.work.names import Names
from eldergate.community.work.wall import display_name, place_label
from eldergate.community.work.words import T, duration, evidence, since, summary_sentence, t
from eldergate.contract.alert_kinds import facets
from eldergate.contract.desired_config import ThresholdChanges


def _card(a: Alert, language: str, names: Names) -> dict[str, Any]:
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
    names = Names(language)
    mine = [_card(a, language, names) for a in open_qs.filter(mine_q)]
    mine_ids = {c["a"].pk for c in mine}
    others = [_card(a, language, names) for a in open_qs if a.pk not in mine_ids]
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


def _calls(r: Resident | None, language: str) -> list[dict[str, Any]]:
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


@login_required(login_url=LOGIN)
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
        "c": _card(a, language, names), "a": a, "resident": r, "calls": _calls(r, language) if see_contacts else [],
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
    if step == "resolve" and request.POST.get("outcome", "") not in OUTCOMES:
        return HttpResponseRedirect(f"{back}?error=outcome")  # no default outcome: a person chooses one
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
    names = Names(language)
    health = scoping.may_see_health(user, r)
    trend = _trend(r) if health else {"nights": [], "lines": [], "advisories": []}
    alerts = [_card(a, language, names) for a in scoping.alerts(user).filter(resident=r)
              .select_related("gateway__home").order_by("-raised_at")[:30]]
    consent_lines = [t("consent_given", language, who=c.given_by,
                       when=c.given_at.astimezone(ZoneInfo(str(settings.TIME_ZONE))).strftime("%Y-%m-%d"))
                     for c in Consent.objects.filter(resident=r, scope=consent.MONITORING, withdrawn_at__isnull=True)
                     .order_by("-given_at")[:3]]
    visits = [{"at": v.at, "kind_text": t(f"visit_{v.kind}", language),
               "by_name": names.person(v.by.username if v.by else "")}
              for v in r.visits.select_related("by").order_by("-at")[:20]]
    see_contacts = scoping.may_see_contacts(user)
    return page(request, "resident.html", {
        "r": r, "name": r.name, "contacts": _calls(r, language) if see_contacts else [],
        "age": now().year - r.birth_year if r.birth_year else None, "place": place_label(r, language) or str(r.home),
        "trend": trend, "health": health, "consent_lines": consent_lines,
        "monitoring": consent.monitoring_consent(r, now()), "may_consent": scoping.may_administer(user)
        or scoping.role(user) == "grid-worker",
        "advice": _advice_lines(trend["advisories"], language),
        "alerts": alerts, "visits": visits,
        "may_medical": scoping.may_read_medical(user), "may_act": scoping.may_act(user),
        "may_access": see_contacts and scoping.role(user) != "relative",
        "relative": scoping.role(user) == "relative",
        "may_settings": scoping.may_change_settings(user), "boxes": _boxes(r, language),
        "night_start": str((r.thresholds or {}).get("night_start", ""))[:5],
        "night_end": str((r.thresholds or {}).get("night_end", ""))[:5]})


def _boxes(r: Resident, language: str) -> list[dict[str, Any]]:
    """Each box of the home: the configuration version in effect there against the one wanted."""
    wanted = r.home.config_version
    out = []
    for g in r.home.gateways.all().order_by("pk"):
        if g.config_refused_version == wanted and wanted:
            state = f"{t('config_refused', language)}：{g.config_refused}"
        elif g.config_applied_version == wanted:
            state = t("config_in_step", language)
        else:
            state = t("config_pending", language)
        out.append({"gateway": g.gateway, "applied": g.config_applied_version, "wanted": wanted, "state": state,
                    "in_step": g.config_applied_version == wanted})
    return out


@login_required(login_url=LOGIN)
@require_POST
def settings_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Change the resident's night hours from the console; the home's box is sent them."""
    r = _resident(request, pk)
    user: Any = request.user
    if not scoping.may_change_settings(user):
        raise Http404("not allowed")
    try:
        changes = ThresholdChanges.model_validate({k: v for k in ("night_start", "night_end")
                                                   if (v := request.POST.get(k, "").strip())})
    except ValidationError:
        return HttpResponseBadRequest("夜间时段请写成 时:分，例如 22:30")
    desired_config.change_resident(r, now(), user, thresholds=changes)
    return HttpResponseRedirect(f"/console/residents/{r.pk}")


def _advice_lines(found: list[Any], language: str) -> list[str]:
    return [t(x.key, language, now=x.now, base=x.base) + f"（{t('since', language)} "
            f"{x.since.astimezone(ZoneInfo(str(settings.TIME_ZONE))).strftime('%m-%d')}）" for x in found]


@login_required(login_url=LOGIN)
def medical_view(request: HttpRequest, pk: int) -> HttpResponse:
    r = _resident(request, pk)
    if not scoping.may_read_medical(request.user):
        record(now(), request.user, "medical_read_refused", r, via="console")
        return error_page(request, 403, "error_medical", "error_medical_explain", back=f"/console/residents/{r.pk}")
    record(now(), request.user, "medical_read", r, via="console")
    return page(request, "medical.html", {"r": r, "notes": [
        ("medical_history", decrypt(r.medical_history)), ("medications", decrypt(r.medications)),
        ("allergies", decrypt(r.allergies))]})


@login_required(login_url=LOGIN)
def access_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Getting into the home: address, building-unit-room, the keyholders, the key-safe code. Its own
    page and its own audit entry (a key-safe code is not a medical note, but it opens a door)."""
    r = _resident(request, pk)
    user: Any = request.user
    if not scoping.may_see_contacts(user) or scoping.role(user) == "relative":
        record(now(), user, "access_read_refused", r)
        return error_page(request, 403, "error_403", "error_403_explain", back=f"/console/residents/{r.pk}")
    record(now(), user, "access_read", r)
    language = lang(request)
    return page(request, "access.html", {"r": r, "place": place_label(r, language), "calls": _calls(r, language),
                                         "key_safe": decrypt(r.home.key_safe)})


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
        return error_page(request, 403, "error_403", "error_visits_explain")
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


def _progress(a: Alert, names: Names, language: str) -> str:
    """The latest step a person took, as a relative wants it: "李明 已到达 03:12"."""
    step = a.history.filter(source="person").order_by("-at", "-pk").first()
    if step is None:
        return ""
    at = step.at.astimezone(ZoneInfo(str(settings.TIME_ZONE))).strftime("%H:%M")
    return f"{names.person(step.by)} {t(f'state_{step.state}', language)} {at}"


def _outing(r: Resident, language: str) -> str:
    """"外出 1 小时 20 分钟，已通知网格员" while the box says the resident is out."""
    g = r.home.gateways.first()
    last = (Event.objects.filter(gateway=g, resident_key=r.resident_id, name__in=("went_out", "came_back"))
            .order_by("-t").first()) if g else None
    if last is None or last.name != "went_out":
        return ""
    told = Alert.objects.filter(resident=r, kind__in=LOST_KINDS, resolved_at__isnull=True).exists()
    return t("out_told" if told else "out_for", language, t=duration((now() - last.t).total_seconds(), language))


@login_required(login_url=LOGIN)
def family_view(request: HttpRequest) -> HttpResponse:
    """A relative's page: their elder only — whether the box at home is online, the latest summary
    with its date in sentences, the advisories the grid worker sees, alerts and what was done."""
    user: Any = request.user
    if scoping.role(user) != "relative":
        return HttpResponseRedirect("/console")
    residents = list(scoping.residents(user).select_related("home__community"))
    if not residents:
        raise Http404("no resident")
    r = residents[0]
    language = lang(request)
    names = Names(language)
    zone = ZoneInfo(str(settings.TIME_ZONE))
    g = r.home.gateways.first()
    health = scoping.may_see_health(user, r)
    summary = (Summary.objects.filter(gateway=g, resident_key=r.resident_id).order_by("-period_end").first()
               if g and health else None)
    alerts = []
    for a in scoping.alerts(user).select_related("gateway__home", "resident__home").order_by("-raised_at")[:20]:
        card = _card(a, language, names)
        card["progress"] = _progress(a, names, language)
        alerts.append(card)
    trend = _trend(r) if health else {"nights": [], "lines": [], "advisories": []}
    box = None
    if g is not None:
        seen = g.last_seen or g.status_at
        seen_text = since((now() - seen).total_seconds(), seen.astimezone(zone).strftime("%m-%d %H:%M"),
                          language) if seen else t("never", language)
        offline = bool(g.offline or g.status == "offline")
        box = {"offline": offline, "text": t("box_offline" if offline else "box_online", language, seen=seen_text)}
    return page(request, "family.html", {
        "r": r, "alerts": alerts, "health": health, "trend": trend, "box": box, "outing": _outing(r, language),
        "summary": summary_sentence(summary.figures, summary.period_end.astimezone(zone), language)
        if summary else "",
        "summary_old": bool(summary and now() - summary.period_end > timedelta(hours=36)),
        "advice": _advice_lines(trend["advisories"], language), "heading": t("family_title", language)})
