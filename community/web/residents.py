"""/console/residents/<pk>: a resident's page and what hangs off it — the night trend and
advisories, the box's settings (night hours, thresholds: the server's desired configuration), the
medical notes (each read logged), who may enter and how, consent, and visits (with the list of
who is due one)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_POST
from pydantic import ValidationError

from eldergate.community.clock import now
from eldergate.community.models import Alert, Consent, Resident, Summary, Visit
from eldergate.community.models.audit import record
from eldergate.community.models.crypto import decrypt
from eldergate.community.web.common import error_page, lang, page
from eldergate.community.web.console import alert_card, contact_calls
from eldergate.community.web.login import safe_next
from eldergate.community.work import consent, desired_config, scoping
from eldergate.community.work.advisories import Night, advisories
from eldergate.community.work.names import Names
from eldergate.community.work.wall import display_name, place_label
from eldergate.community.work.words import t
from eldergate.contract.desired_config import ThresholdChanges


def _resident(request: HttpRequest, pk: int) -> Resident:
    r = scoping.residents(request.user).select_related("home__community", "grid_worker").filter(pk=pk).first()
    if r is None:
        raise Http404("no such resident")
    return r


def night_trend(r: Resident) -> dict[str, Any]:
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


@login_required
def resident_view(request: HttpRequest, pk: int) -> HttpResponse:
    r = _resident(request, pk)
    user: Any = request.user
    language = lang(request)
    names = Names(language)
    health = scoping.may_see_health(user, r)
    trend = night_trend(r) if health else {"nights": [], "lines": [], "advisories": []}
    alerts = [alert_card(a, language, names) for a in scoping.alerts(user).filter(resident=r)
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
        "r": r, "name": r.name, "contacts": contact_calls(r, language) if see_contacts else [],
        "age": now().year - r.birth_year if r.birth_year else None, "place": place_label(r, language) or str(r.home),
        "trend": trend, "health": health, "consent_lines": consent_lines,
        "monitoring": consent.monitoring_consent(r, now()), "may_consent": scoping.may_administer(user)
        or scoping.role(user) == "grid-worker",
        "advice": advice_lines(trend["advisories"], language),
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


@login_required
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
    return HttpResponseRedirect(reverse("resident", args=[r.pk]))


def advice_lines(found: list[Any], language: str) -> list[str]:
    return [t(x.key, language, now=x.now, base=x.base) + f"（{t('since', language)} "
            f"{x.since.astimezone(ZoneInfo(str(settings.TIME_ZONE))).strftime('%m-%d')}）" for x in found]


@login_required
def medical_view(request: HttpRequest, pk: int) -> HttpResponse:
    r = _resident(request, pk)
    if not scoping.may_read_medical(request.user):
        record(now(), request.user, "medical_read_refused", r, via="console")
        return error_page(request, 403, "error_medical", "error_medical_explain", back=reverse("resident", args=[r.pk]))
    record(now(), request.user, "medical_read", r, via="console")
    return page(request, "medical.html", {"r": r, "notes": [
        ("medical_history", decrypt(r.medical_history)), ("medications", decrypt(r.medications)),
        ("allergies", decrypt(r.allergies))]})


@login_required
def access_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Getting into the home: address, building-unit-room, the keyholders, the key-safe code. Its own
    page and its own audit entry (a key-safe code is not a medical note, but it opens a door)."""
    r = _resident(request, pk)
    user: Any = request.user
    if not scoping.may_see_contacts(user) or scoping.role(user) == "relative":
        record(now(), user, "access_read_refused", r)
        return error_page(request, 403, "error_403", "error_403_explain", back=reverse("resident", args=[r.pk]))
    record(now(), user, "access_read", r)
    language = lang(request)
    return page(request, "access.html", {"r": r, "place": place_label(r, language), "calls": contact_calls(r, language),
                                         "key_safe": decrypt(r.home.key_safe)})


@login_required
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
    return HttpResponseRedirect(reverse("resident", args=[r.pk]))


@login_required
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
    # back: a page of this server only (a forged form must not send the worker elsewhere)
    return HttpResponseRedirect(safe_next(request.POST.get("back"), reverse("resident", args=[r.pk])))


@login_required
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
        advice = len(night_trend(r)["advisories"]) if scoping.may_see_health(user, r) else 0
        days = (now() - last.at).days if last else None
        rows.append({"r": r, "name": r.name, "wall_name": display_name(r, r.home.community),
                     "open": open_n, "offline": offline, "advice": advice, "days": days,
                     "month": r.visits.filter(at__gte=month_start).count()})
    def need(x: dict[str, Any]) -> tuple[int, int, bool, int]:
        return (-int(x["open"]), -int(x["advice"]), not x["offline"], -(x["days"] if x["days"] is not None else 10_000))

    rows.sort(key=need)
    done = sum(1 for x in rows if int(x["month"]) > 0)
    return page(request, "visits.html", {"rows": rows, "done": done, "total": len(rows)})
