"""The audit trail cannot be rewritten (#32): a queryset update or delete, plain SQL and (on
PostgreSQL) TRUNCATE are refused by the database itself; only the retention job removes rows, older
than 3 years, behind a permit that is itself kept; deleting a user keeps their entries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from audit_probe import try_to_rewrite
from pg import Postgres
from testutil import ROOT, clean_env

EXPECTED = "actor kept audited-worker, removed 1, left recent, permits kept"


def test_on_sqlite_the_audit_trail_is_append_only(db: Any) -> None:
    assert try_to_rewrite() == f"refused 5/5, {EXPECTED}"


@pytest.mark.slow
def test_on_postgresql_the_audit_trail_is_append_only(tmp_path: Path, postgres: Postgres) -> None:
    out = subprocess.run([sys.executable, str(ROOT / "tests" / "community_pg_script.py"), "audit", "--db",
                          postgres.create_db("audit"), "--folder", str(tmp_path)],
                         capture_output=True, text=True, timeout=180, env=clean_env())
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == f"refused 6/6, {EXPECTED}"
