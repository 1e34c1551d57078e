"""The append-only audit trail: every transition, comment, assignment, snooze, medical-note read.

Append-only in the database itself, not only here: triggers (migration 0007) refuse any UPDATE of a
row (save the actor's link set to NULL when a user is deleted) and any DELETE not covered by an
AuditPurge permit, whatever the path (a queryset update or delete, plain SQL). The one way rows
leave is the retention job (work/retention.py): it first writes a permit naming the bound, which
the triggers accept only for rows older than 3 years (PIPL Art. 55-56), and the permits are kept
for ever, append-only too: who purged what is itself on record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models


class AppendOnly(Exception):
    pass


class AuditEntry(models.Model):
    at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    actor_name = models.CharField(max_length=150, help_text="kept when the user is deleted; 'gateway', 'server'")
    action = models.CharField(max_length=40, db_index=True)
    object_type = models.CharField(max_length=40)
    object_id = models.CharField(max_length=100)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "pk"]
        verbose_name_plural = "audit entries"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise AppendOnly("audit entries are never changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnly("audit entries are removed only by the retention job")


class AuditPurge(models.Model):
    """A permit the retention job writes before removing audit rows older than ``before``."""

    at = models.DateTimeField()
    before = models.DateTimeField()


def record(at: datetime, actor: Any, action: str, obj: models.Model | str, **details: Any) -> AuditEntry:
    entry = audit_entry(at, actor, action, obj, **details)
    entry.save()
    return entry


def audit_entry(at: datetime, actor: Any, action: str, obj: models.Model | str, **details: Any) -> AuditEntry:
    """The entry ``record`` writes, not saved: a batch writes many with one bulk_create."""
    name = actor.get_username() if hasattr(actor, "get_username") else str(actor or "server")
    user = actor if hasattr(actor, "get_username") else None
    if isinstance(obj, models.Model):
        otype, oid = obj._meta.model_name or "", str(obj.pk)
    else:
        otype, _, oid = obj.partition(":")
    return AuditEntry(at=at, actor=user, actor_name=name[:150], action=action, object_type=otype[:40],
                      object_id=oid[:100], details=details)
