"""Live fan-out to the pages: on PostgreSQL a ``NOTIFY eldergate_changes`` in the transaction that
changed something (PostgreSQL delivers it only if that transaction commits), which every web
process LISTENs to; on SQLite (one process) the pages look for changes a few times a second."""

from __future__ import annotations

from django.db import connection

CHANNEL = "eldergate_changes"


def announce() -> None:
    """Call inside the transaction that changed what the pages show."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(f"NOTIFY {CHANNEL}")


def live_by_notify() -> bool:
    return connection.vendor == "postgresql"
