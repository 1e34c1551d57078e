"""The retention table, enforced (PIPL Art. 19 and 47: keep the shortest necessary)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction

from eldergate.community.config import Retention
from eldergate.community.models import Alert, AuditEntry, AuditPurge, Event, Summary, VitalsMinute
from eldergate.community.models.audit import record

TABLE = {  # data class -> (what it holds, the rule that applies)
    "vitals_minutes": "per-minute heart and breathing aggregates",
    "events": "bed exits, turnovers, door and presence events",
    "summaries": "daily summaries from the gateways",
    "alerts": "closed alerts with their history, comments and escalation steps",
    "audit": "the audit trail (at least 3 years, PIPL Art. 55-56)",
}


def _purge_audit(now: datetime, before: datetime) -> int:
    """The one path that removes audit rows: a permit first (kept for ever), which the database's
    triggers require and accept only for a bound at least 3 years back (migration 0007)."""
    if not AuditEntry.objects.filter(at__lt=before).exists():
        return 0
    AuditPurge.objects.create(at=now, before=before)
    return AuditEntry.objects.filter(at__lt=before).delete()[0]


def enforce(now: datetime, keep: Retention) -> dict[str, int]:
    def cut(days: int) -> datetime:
        return now - timedelta(days=days)

    with transaction.atomic():
        removed = {
            "vitals_minutes": VitalsMinute.objects.filter(minute__lt=cut(keep.vitals_minutes)).delete()[0],
            "events": Event.objects.filter(t__lt=cut(keep.events)).delete()[0],
            "summaries": Summary.objects.filter(period_end__lt=cut(keep.summaries)).delete()[0],
            "alerts": Alert.objects.filter(resolved_at__lt=cut(keep.alerts)).delete()[0],
            "audit": _purge_audit(now, cut(keep.audit)),
        }
        if any(removed.values()):
            record(now, "server", "retention", "retention:run", removed=removed)
    return removed
