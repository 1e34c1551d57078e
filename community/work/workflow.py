"""An alert's way through the server: what a gateway reports and what people do, each step once.

raised → received → acknowledged → on the way → arrived → resolved (with an outcome). Any step a
person takes past "received" acknowledges the alert if nobody had: escalation stops, and the
acknowledgement goes to the gateway (resent until it confirms), which stops its own pushes. The
gateway's "resolved" (the condition ended: the gas cleared, she got up) also closes the alert; a
person may still record the outcome afterwards, for the statistics.

Every function here runs inside the caller's transaction and writes its audit entries there, so
the record and its trail commit together.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from eldergate.community.models import Alert, AlertState, Comment, OutgoingAck
from eldergate.community.models.alerts import OUTCOMES, RANK
from eldergate.community.models.audit import record
from eldergate.community.work import fanout

# called after a commit that changed an alert (the live pages and the ack sender listen)
_listeners: list[Callable[[str], None]] = []


def on_change(listener: Callable[[str], None]) -> None:
    _listeners.append(listener)


def changed(alert: Alert) -> None:
    changed_all([alert])


def changed_all(alerts: list[Alert]) -> None:
    """Alerts a transaction changed together: one NOTIFY for them all (each is a round trip to
    PostgreSQL, and a replay's batch creates a hundred alerts)."""
    if not alerts:
        return
    fanout.announce()
    for aid in [a.alert_id for a in alerts]:
        for listener in list(_listeners):
            transaction.on_commit(lambda listener=listener, aid=aid: listener(aid))  # type: ignore[misc]


class WorkflowError(Exception):
    """A step that does not apply to the alert as it is now (the message says why)."""


def add_state(alert: Alert, state: str, at: datetime, by: str, source: str) -> bool:
    """Record ``state`` in the history unless it is there already; True if it was new."""
    _, created = AlertState.objects.get_or_create(alert=alert, state=state,
                                                  defaults={"at": at, "by": by, "source": source})
    return created


def advance(alert: Alert, state: str) -> None:
    if RANK.get(state, -1) > RANK.get(alert.state, -1):
        alert.state = state


def _acknowledge(alert: Alert, who: str, at: datetime, source: str, actor: Any) -> bool:
    if alert.acknowledged_at is not None:
        return False
    alert.acknowledged_at, alert.acknowledged_by = at, who
    add_state(alert, "acknowledged", at, who, source)
    advance(alert, "acknowledged")
    if alert.origin == "gateway" and source != "gateway":
        OutgoingAck.objects.get_or_create(alert=alert, defaults={"by": who, "next_at": at})
    record(at, actor, "acknowledged", alert, by=who, source=source)
    return True


def person_step(alert_pk: int, user: User, step: str, now: datetime, outcome: str = "",
                note: str = "") -> Alert:
    """acknowledge | on_the_way | arrived | resolve, by a person, in one transaction."""
    with transaction.atomic():
        alert = Alert.objects.select_for_update().get(pk=alert_pk)
        who = user.get_username()
        if step == "resolve":
            if outcome not in OUTCOMES:
                raise WorkflowError(f"outcome must be one of {', '.join(OUTCOMES)}")
            if alert.outcome:
                raise WorkflowError("this alert is closed already")
            _acknowledge(alert, who, now, "person", user)
            alert.outcome, alert.note = outcome, note
            if alert.resolved_at is None:
                alert.resolved_at, alert.resolved_by = now, who
                add_state(alert, "resolved", now, who, "person")
                advance(alert, "resolved")
            record(now, user, "resolved", alert, outcome=outcome, note=note)
        elif step == "acknowledge":
            if not _acknowledge(alert, who, now, "person", user):
                raise WorkflowError(f"already acknowledged by {alert.acknowledged_by}")
        elif step in ("on_the_way", "arrived"):
            if alert.state == "resolved":
                raise WorkflowError("this alert is resolved")
            _acknowledge(alert, who, now, "person", user)
            if not add_state(alert, step, now, who, "person"):
                raise WorkflowError(f"{step} is recorded already")
            if step == "on_the_way":
                alert.on_way_at = now
            else:
                alert.arrived_at = now
            advance(alert, step)
            record(now, user, step, alert)
        else:
            raise WorkflowError(f"unknown step {step!r}")
        alert.save()
        changed(alert)
        return alert


def assign(alert_pk: int, user: User, assignee: User | None, now: datetime) -> Alert:
    with transaction.atomic():
        alert = Alert.objects.select_for_update().get(pk=alert_pk)
        before = alert.assignee.get_username() if alert.assignee else None
        alert.assignee = assignee
        alert.save(update_fields=["assignee"])
        record(now, user, "assigned", alert, before=before, after=assignee.get_username() if assignee else None)
        changed(alert)
        return alert


def comment(alert_pk: int, user: User, text: str, now: datetime) -> Comment:
    if not text.strip():
        raise WorkflowError("a comment needs words")
    with transaction.atomic():
        alert = Alert.objects.get(pk=alert_pk)
        c = Comment.objects.create(alert=alert, author=user, at=now, text=text)
        record(now, user, "commented", alert, comment=c.pk)
        changed(alert)
        return c


def gateway_state(alert: Alert, state: str, at: datetime, by: str | None, now: datetime | None = None) -> bool:
    """A state the gateway sent (raised, delivered, acknowledged, resolved) at the gateway's time
    ``at``, learnt at the server's ``now``. True if new. The history keeps the gateway's time; what
    the server acts on (response times, retention, the audit) is the server's."""
    now = now or at
    if state == "acknowledged":
        new = add_state(alert, "acknowledged", at, by or "gateway", "gateway")
        if alert.acknowledged_at is None:
            alert.acknowledged_at, alert.acknowledged_by = now, by or "gateway"
            advance(alert, "acknowledged")
            record(now, "gateway", "acknowledged", alert, by=by or "gateway", source="gateway")
        return new
    new = add_state(alert, state, at, "gateway", "gateway")
    if new and state == "resolved":
        alert.cleared_at = at
        if alert.resolved_at is None:
            alert.resolved_at, alert.resolved_by = now, "gateway"
            advance(alert, "resolved")
        record(now, "gateway", "cleared", alert)
    elif new and state == "raised":
        advance(alert, "raised")
    return new


def server_resolve(alert: Alert, at: datetime, why: str) -> None:
    """The server closes an alert it raised itself (a home that came back online)."""
    if alert.resolved_at is not None:
        return
    alert.resolved_at, alert.resolved_by, alert.cleared_at = at, "server", at
    add_state(alert, "resolved", at, "server", "server")
    advance(alert, "resolved")
    alert.save()
    record(at, "server", "cleared", alert, why=why)
    changed(alert)
