"""Tries every way to rewrite the audit trail (tests/community/test_audit_trail.py, on SQLite in
the test process and on PostgreSQL through tests/community_pg_script.py). Returns one line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

NOW = datetime(2029, 12, 1, 2, 0, tzinfo=UTC)


def try_to_rewrite() -> str:
    from django.contrib.auth import get_user_model
    from django.db import DatabaseError, connection, transaction

    from eldergate.community.config import Retention
    from eldergate.community.models import AuditEntry, AuditPurge
    from eldergate.community.models.audit import record
    from eldergate.community.work import retention

    user = get_user_model().objects.create(username="audited-worker")
    old = record(NOW - timedelta(days=1200), user, "medical_read", "resident:1")
    recent = record(NOW - timedelta(days=10), user, "medical_read", "resident:2")
    table = AuditEntry._meta.db_table
    attempts = {
        "queryset update": lambda: AuditEntry.objects.filter(pk=recent.pk).update(action="nothing"),
        "queryset delete": lambda: AuditEntry.objects.filter(pk=recent.pk).delete(),
        "sql update": lambda: connection.cursor().execute(f"UPDATE {table} SET object_id = 'x'"),
        "sql delete": lambda: connection.cursor().execute(f"DELETE FROM {table}"),
        "recent permit": lambda: AuditPurge.objects.create(at=NOW, before=NOW - timedelta(days=30)),
    }
    if connection.vendor == "postgresql":
        attempts["truncate"] = lambda: connection.cursor().execute(f"TRUNCATE {table}")
    refused = []
    for name, attempt in attempts.items():
        try:
            with transaction.atomic():
                attempt()
        except DatabaseError:
            refused.append(name)
    # deleting a user keeps their entries (the actor's name stays; the link becomes NULL)
    user.delete()
    kept_name = AuditEntry.objects.get(pk=recent.pk).actor_name
    # the retention job's path: a permit, then the rows older than 3 years, and the permit stays
    removed = retention.enforce(NOW, Retention())["audit"]
    try:
        with transaction.atomic():
            AuditPurge.objects.all().delete()
        permits = "deletable"
    except DatabaseError:
        permits = "kept"
    left = sorted(AuditEntry.objects.filter(pk__in=[old.pk, recent.pk]).values_list("pk", flat=True))
    return (f"refused {len(refused)}/{len(attempts)}, actor kept {kept_name}, removed {removed}, "
            f"left {'recent' if left == [recent.pk] else left}, permits {permits}")
