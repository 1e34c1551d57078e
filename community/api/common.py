"""Shared by the API's routers: the clock, the current user, lookups that 404 outside one's scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.http import HttpRequest
from ninja.errors import HttpError

from eldergate.community.models import Alert
from eldergate.community.work import scoping


def user(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


def parse_time(value: str | None) -> datetime | None:
    """ISO 8601 or Unix seconds."""
    if value in (None, ""):
        return None
    assert value is not None
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except ValueError:
        pass
    except (OverflowError, OSError):  # 1e300, inf: a number, but no time
        raise HttpError(400, f"not a time: {value!r} (ISO 8601 or Unix seconds)") from None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise HttpError(400, f"not a time: {value!r} (ISO 8601 or Unix seconds)") from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def visible_alert(request: HttpRequest, alert_id: str) -> Alert:
    """``alert_id`` is the alert's ``ref`` (site.gateway.id) or an id only one visible alert has."""
    alert = scoping.by_ref(scoping.alerts(user(request)).select_related("gateway"), alert_id)
    if alert is None:
        raise HttpError(404, "no such alert")  # the same answer whether it exists elsewhere or not
    return alert


def repeats(alerts: list[Alert]) -> dict[int, int]:
    """Alert (pk) -> how many alerts of the same resident and kind fall within a day of it (three
    falls tonight are one group with a count of 3, not three unrelated cards)."""
    if not alerts:
        return {}
    day = timedelta(hours=24)
    lo = min(a.raised_at for a in alerts) - day
    hi = max(a.raised_at for a in alerts) + day
    times: dict[str, list[datetime]] = {}
    for key, t in (Alert.objects.filter(group_key__in={a.group_key for a in alerts}, raised_at__gte=lo,
                                        raised_at__lte=hi).values_list("group_key", "raised_at")):
        times.setdefault(key, []).append(t)
    return {a.pk: sum(abs(t - a.raised_at) <= day for t in times.get(a.group_key, [])) or 1 for a in alerts}


def alert_out(a: Alert, at: datetime, reps: dict[int, int] | None = None) -> dict[str, Any]:
    ack = getattr(a, "outgoing_ack", None)  # RelatedObjectDoesNotExist is an AttributeError
    return {
        "id": a.alert_id, "ref": a.ref, "kind": a.kind, "severity": a.severity, "site": a.gateway.site,
        "gateway": a.gateway.gateway, "resident": a.resident_key, "resident_record": a.resident_id,
        "home": a.gateway.home_id, "community": a.community.code if a.community else None,
        "room": a.room, "sensor": a.sensor, "title_zh": a.title_zh, "title_en": a.title_en, "evidence": a.evidence,
        "state": a.state, "open": a.is_open, "test": a.test, "origin": a.origin,
        "raised_at": a.raised_at, "received_at": a.received_at, "acknowledged_at": a.acknowledged_at,
        "acknowledged_by": a.acknowledged_by, "on_way_at": a.on_way_at, "arrived_at": a.arrived_at,
        "resolved_at": a.resolved_at, "resolved_by": a.resolved_by, "outcome": a.outcome, "note": a.note,
        "assignee": a.assignee.get_username() if a.assignee else None,
        "age_s": round(((a.resolved_at or at) - a.raised_at).total_seconds(), 1),
        "repeats": (reps or {}).get(a.pk, 1),
        "gateway_confirmed_ack": None if ack is None else ack.confirmed_at is not None,
        "history": [{"state": h.state, "at": h.at, "by": h.by} for h in a.history.all()],
        "comments": [{"at": c.at, "by": c.author.get_username() if c.author else "", "text": c.text}
                     for c in a.comments.all()],
    }
