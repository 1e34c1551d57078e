"""/family: a relative's page — their elder only: whether the box at home is online, the latest
summary in sentences, the advisories the grid worker sees, alerts and what was done about them,
with "I'm handling it" where the community allows it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from eldergate.community.clock import now
from eldergate.community.models import Alert, Event, Resident, Summary
from eldergate.community.web.common import lang, page
from eldergate.community.web.console import alert_card
from eldergate.community.web.residents import advice_lines, night_trend
from eldergate.community.work import scoping
from eldergate.community.work.lost import LOST_KINDS
from eldergate.community.work.names import Names
from eldergate.community.work.words import duration, since, summary_sentence, t
from eldergate.contract.events import EventName as E


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
    last = (Event.objects.filter(gateway=g, resident_key=r.resident_id, name__in=(E.WENT_OUT, E.CAME_BACK))
            .order_by("-t").first()) if g else None
    if last is None or last.name != E.WENT_OUT:
        return ""
    told = Alert.objects.filter(resident=r, kind__in=LOST_KINDS, resolved_at__isnull=True).exists()
    return t("out_told" if told else "out_for", language, t=duration((now() - last.t).total_seconds(), language))


@login_required
def family_view(request: HttpRequest) -> HttpResponse:
    """A relative's page: their elder only — whether the box at home is online, the latest summary
    with its date in sentences, the advisories the grid worker sees, alerts and what was done."""
    user: Any = request.user
    if scoping.role(user) != "relative":
        return HttpResponseRedirect(reverse("console"))
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
        card = alert_card(a, language, names)
        card["progress"] = _progress(a, names, language)
        alerts.append(card)
    trend = night_trend(r) if health else {"nights": [], "lines": [], "advisories": []}
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
        "advice": advice_lines(trend["advisories"], language), "heading": t("family_title", language)})
