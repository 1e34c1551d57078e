"""The ingest's and the timers' hostile-input cases on PostgreSQL, which refuses what SQLite lets
through (over-long fields, NUL characters, locks on an outer join): each runs in a process of its
own on a throw-away cluster (tests/community_pg_script.py), the way production runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pg import Postgres
from testutil import ROOT, clean_env

pytestmark = [pytest.mark.slow]


def _script(case: str, db: str, folder: Path) -> str:
    out = subprocess.run([sys.executable, str(ROOT / "tests" / "community_pg_script.py"), case, "--db", db,
                          "--folder", str(folder)], capture_output=True, text=True, timeout=180, env=clean_env())
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.strip().splitlines()[-1]


def test_on_postgresql_a_silent_home_is_reported_offline(tmp_path: Path, postgres: Postgres) -> None:
    """It raised "FOR UPDATE cannot be applied to the nullable side of an outer join" on every tick."""
    assert _script("offline", postgres.create_db("offline"), tmp_path) == "raised 2, again 0"


def test_on_postgresql_one_bad_message_costs_only_itself(tmp_path: Path, postgres: Postgres) -> None:
    """A 41-character kind lost 300 events of another home; a NUL character in a title, another batch.
    The fall that is stored has its history, escalation steps and audit entry, as PostgreSQL typed them."""
    assert _script("poison", postgres.create_db("poison"), tmp_path) == (
        "events 300, alerts 1, dead 2, receipts 1; history ['raised', 'received'], steps [(0, 'assigned')] of 4, "
        'audit {"kind": "fall", "unknown_gateway": false} at True')


def test_on_postgresql_a_row_copy_refuses_is_a_django_error(tmp_path: Path, postgres: Postgres) -> None:
    """New alerts' rows go in by COPY on psycopg's own cursor: its errors must still be Django's, or
    the ingest would take a lost connection for a bad batch and dead-letter its messages one by one."""
    assert _script("rows", postgres.create_db("rows"), tmp_path) == "refused: django.db.utils.IntegrityError"
