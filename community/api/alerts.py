"""/api/v1/alerts: the list with full history, one alert, and the steps people take."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.errors import HttpError

from eldergate.community.api.common import alert_out, parse_time, repeats, user, visible_alert
from eldergate.community.api.schemas import AlertOut, AlertPage, AssignIn, CommentIn, Problem, StepIn
from eldergate.community.clock import now
from eldergate.community.models import Alert
from eldergate.community.models.alerts import STATES
from eldergate.community.work import scoping, workflow

router = Router(tags=["alerts"])
MAX_LIMIT = 500


class AlertFilters(Schema):
    since: str | None = None  # changed at or after (ISO 8601 or Unix seconds)
    state: str | None = None  # a state, a comma list, or "open"
    kind: str | None = None
    limit: int = 100
    after: int | None = None  # the cursor of the `next` link


def _prefetched(qs: Any) -> Any:
    return qs.select_related("gateway", "community", "assignee", "outgoing_ack").prefetch_related(
        "history", "comments__author")


@router.get("/alerts", response=AlertPage, summary="alerts in your scope, oldest change first")
def list_alerts(request: HttpRequest, f: Query[AlertFilters]) -> dict[str, Any]:
    qs = scoping.alerts(user(request))
    since = parse_time(f.since)
    if since is not None:
        qs = qs.filter(updated_at__gte=since)
    if f.state:
        wanted = [s.strip() for s in f.state.split(",") if s.strip()]
        bad = [s for s in wanted if s not in (*STATES, "open")]
        if bad:
            raise HttpError(400, f"unknown state {bad[0]!r}: one of {', '.join(STATES)} or open")
        cond = Q(state__in=[s for s in wanted if s != "open"])
        if "open" in wanted:
            cond |= ~Q(state="resolved")
        qs = qs.filter(cond)
    if f.kind:
        qs = qs.filter(kind=f.kind)
    if f.after is not None:
        qs = qs.filter(pk__gt=f.after)
    limit = max(1, min(f.limit, MAX_LIMIT))
    page = list(_prefetched(qs.order_by("pk"))[:limit + 1])
    more = len(page) > limit
    page = page[:limit]
    at = now()
    reps = repeats(page)
    nxt = None
    if more:
        params = {k: v for k, v in (("since", f.since), ("state", f.state), ("kind", f.kind)) if v}
        query = urlencode({**params, "limit": limit, "after": page[-1].pk})
        nxt = request.build_absolute_uri(f"{request.path}?{query}")
    return {"items": [alert_out(a, at, reps) for a in page], "next": nxt}


@router.get("/alerts/{alert_id}", response={200: AlertOut, 404: Problem})
def get_alert(request: HttpRequest, alert_id: str) -> dict[str, Any]:
    a = _prefetched(Alert.objects.filter(pk=visible_alert(request, alert_id).pk)).get()
    return alert_out(a, now(), repeats([a]))


def _step(request: HttpRequest, alert_id: str, step: str, body: StepIn | None = None) -> dict[str, Any]:
    a = visible_alert(request, alert_id)
    u = user(request)
    if not scoping.may_act(u, a):
        raise HttpError(403, f"a {scoping.role(u) or 'user without a role'} cannot take this alert's steps")
    try:
        workflow.person_step(a.pk, u, step, now(), outcome=body.outcome if body else "",
                             note=body.note if body else "")
    except workflow.WorkflowError as err:
        raise HttpError(409, str(err)) from None
    return get_alert(request, alert_id)


@router.post("/alerts/{alert_id}/acknowledge", response={200: AlertOut, 403: Problem, 404: Problem, 409: Problem})
def acknowledge(request: HttpRequest, alert_id: str) -> dict[str, Any]:
    return _step(request, alert_id, "acknowledge")


@router.post("/alerts/{alert_id}/on-the-way", response={200: AlertOut, 403: Problem, 404: Problem, 409: Problem})
def on_the_way(request: HttpRequest, alert_id: str) -> dict[str, Any]:
    return _step(request, alert_id, "on_the_way")


@router.post("/alerts/{alert_id}/arrived", response={200: AlertOut, 403: Problem, 404: Problem, 409: Problem})
def arrived(request: HttpRequest, alert_id: str) -> dict[str, Any]:
    return _step(request, alert_id, "arrived")


@router.post("/alerts/{alert_id}/resolve", response={200: AlertOut, 403: Problem, 404: Problem, 409: Problem},
             summary="resolve with an outcome code (false_alarm, resident_fine, helped, ambulance_called, "
                     "not_at_home, device_fault, other) and a note")
def resolve(request: HttpRequest, alert_id: str, body: StepIn) -> dict[str, Any]:
    return _step(request, alert_id, "resolve", body)


@router.post("/alerts/{alert_id}/assign", response={200: AlertOut, 403: Problem, 404: Problem})
def assign(request: HttpRequest, alert_id: str, body: AssignIn) -> dict[str, Any]:
    a = visible_alert(request, alert_id)
    u = user(request)
    if not scoping.may_act(u, a):
        raise HttpError(403, "only grid workers, volunteers and community admins assign alerts")
    assignee = None
    if body.user:
        assignee = get_user_model().objects.filter(username=body.user,
                                                   profile__community_id=a.community_id or -1).first()
        if assignee is None:
            raise HttpError(404, f"no user {body.user!r} in this alert's community")
    workflow.assign(a.pk, u, assignee, now())
    return get_alert(request, alert_id)


@router.post("/alerts/{alert_id}/comments", response={200: AlertOut, 403: Problem, 404: Problem, 409: Problem})
def add_comment(request: HttpRequest, alert_id: str, body: CommentIn) -> dict[str, Any]:
    a = visible_alert(request, alert_id)
    u = user(request)
    if not (scoping.may_act(u, a) or scoping.may_administer(u)):
        raise HttpError(403, "this role cannot comment on alerts")
    try:
        workflow.comment(a.pk, u, body.text, now())
    except workflow.WorkflowError as err:
        raise HttpError(409, str(err)) from None
    return get_alert(request, alert_id)
