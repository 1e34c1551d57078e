"""/reports: per community, a day or a month — alerts by kind and outcome, response times against
targets, false-alarm rates, offline hours, visits — as a page and as a spreadsheet."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import HttpRequest, HttpResponse

from eldergate.community.clock import now
from eldergate.community.models import Visit
from eldergate.community.web.common import error_page, lang, page
from eldergate.community.work import scoping, stats
from eldergate.community.work.words import T, t
from eldergate.contract.alert_kinds import AlertKind, facets


def _period(request: HttpRequest) -> tuple[datetime, datetime, str]:
    tz = ZoneInfo(str(settings.TIME_ZONE))
    local = now().astimezone(tz)
    day, month = request.GET.get("day", ""), request.GET.get("month", "")
    try:
        if day:
            start = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=tz)
            return start, start + timedelta(days=1), day
        start = datetime.strptime(month or local.strftime("%Y-%m"), "%Y-%m").replace(tzinfo=tz)
    except ValueError:
        start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end, start.strftime("%Y-%m")


def offline_hours(alerts: Any, start: datetime, end: datetime, at: datetime) -> float:
    """Hours homes were offline within [start, end): each outage from its raising to the box's
    return (cleared), or to its resolution, or to now while it lasts — never to the period's end in
    the future; an outage begun before the period counts from the period's start; overlapping
    outages of one box count once."""
    stop = min(end, at)
    spans: dict[int, list[tuple[datetime, datetime]]] = {}
    outages = (alerts.filter(kind=AlertKind.HOME_OFFLINE, test=False, raised_at__lt=stop)
               .filter(Q(cleared_at__isnull=True) | Q(cleared_at__gt=start))
               .filter(Q(resolved_at__isnull=True) | Q(resolved_at__gt=start)))
    for a in outages:
        until = min(x for x in (a.cleared_at, a.resolved_at, stop) if x is not None)
        begin = max(a.raised_at, start)
        if until > begin:
            spans.setdefault(a.gateway_id, []).append((begin, until))
    total = 0.0
    for intervals in spans.values():
        intervals.sort()
        cur_start, cur_end = intervals[0]
        for b, e in intervals[1:]:
            if b > cur_end:
                total += (cur_end - cur_start).total_seconds()
                cur_start, cur_end = b, e
            else:
                cur_end = max(cur_end, e)
        total += (cur_end - cur_start).total_seconds()
    return total / 3600


def kind_word(kind: str, language: str) -> str:
    k = facets(kind)
    return (k.zh if language != "en" else k.en) if k else kind


STEP_WORDS = {"receipt": "step_receipt", "acknowledge": "step_acknowledge", "arrive": "step_arrive",
              "resolve": "step_resolve"}


def report(user: Any, start: datetime, end: datetime, language: str = "zh-hans") -> dict[str, Any]:
    alerts = scoping.alerts(user).filter(raised_at__gte=start, raised_at__lt=end)
    real = alerts.filter(test=False)
    s = stats.response(scoping.alerts(user), start, end)
    offline_h = offline_hours(scoping.alerts(user), start, end, now())
    visits = Visit.objects.filter(resident__in=scoping.residents(user), at__gte=start, at__lt=end)
    return {"by_kind": [(kind_word(k, language), n) for k, n in
                        Counter(real.values_list("kind", flat=True)).most_common()],
            "by_outcome": [(t(o, language) if o in T else o, n) for o, n in
                           Counter(o for o in real.values_list("outcome", flat=True) if o).most_common()],
            "times": [(t(STEP_WORDS[k], language) if k in STEP_WORDS else k, v) for k, v in s["times"].items()],
            "within": [(t(STEP_WORDS[k], language) if k in STEP_WORDS else k, v)
                       for k, v in s["within_target"].items()],
            "false_rates": [(kind_word(k, language), f"{v * 100:.0f}%" if v is not None else "-")
                            for k, v in s["false_alarm_rate_by_kind"].items()],
            "stats": s, "offline_hours": round(offline_h, 1), "visits": visits.count(),
            "residents_visited": visits.values("resident").distinct().count()}


def _for_managers(view: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    @wraps(view)
    def checked(request: HttpRequest) -> HttpResponse:
        if not scoping.may_see_reports(request.user):
            return error_page(request, 403, "error_403", "error_reports_explain")
        return view(request)
    return checked


@login_required
@_for_managers
def reports_view(request: HttpRequest) -> HttpResponse:
    start, end, label = _period(request)
    return page(request, "reports.html", {"label": label, "r": report(request.user, start, end, lang(request)),
                                          "query": request.GET.urlencode()})


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _text(value: Any) -> Any:
    """A text that a spreadsheet (or the CSV someone saves it as) would read as a formula gets a
    leading apostrophe, OWASP's advice against formula injection: kinds and titles come from boxes."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _append(ws: Any, row: list[Any]) -> None:
    """A row of text and numbers, never formulas."""
    ws.append([_text(v) for v in row])
    for cell in ws[ws.max_row]:
        if cell.data_type == "f":  # belt and braces: openpyxl makes any "=..." string a formula
            cell.data_type = "s"


@login_required
@_for_managers
def reports_xlsx(request: HttpRequest) -> HttpResponse:
    from openpyxl import Workbook

    start, end, label = _period(request)
    language = lang(request)
    r = report(request.user, start, end, language)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = label
    _append(ws, [t("reports", language), label])
    _append(ws, [])
    _append(ws, [t("alerts_by_kind", language)])
    for kind, n in r["by_kind"]:
        _append(ws, [kind, n])
    _append(ws, [t("outcome", language)])
    for outcome, n in r["by_outcome"]:
        _append(ws, [outcome, n])
    _append(ws, [t("response_times", language), t("count", language), t("median_s", language),
                 t("p90_s", language)])
    for step, v in r["times"]:
        _append(ws, [step, v["n"], v["median_s"], v["p90_s"]])
    for step, v in r["within"]:
        _append(ws, [f"{step} {t('within_target', language)}", v["within"], v["of"], v["share"]])
    _append(ws, [t("false_alarm_rate", language)])
    for kind, rate in r["false_rates"]:
        _append(ws, [kind, rate])
    _append(ws, [t("offline_hours", language), r["offline_hours"]])
    _append(ws, [t("visits", language), r["visits"]])
    buf = io.BytesIO()
    wb.save(buf)
    response = HttpResponse(buf.getvalue(),
                            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="eldergate-report-{label}.xlsx"'
    return response

