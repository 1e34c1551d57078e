"""Two escalation workers on one PostgreSQL database (FOR UPDATE SKIP LOCKED): each due step is
pushed exactly once, counted at a local HTTP endpoint that Apprise posts to."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from community_proc import community
from pg import Postgres
from push_endpoint import PushEndpoint
from testutil import ROOT, clean_env, eldergate_cmd

pytestmark = [pytest.mark.slow]
ALERTS = 50


def test_two_escalation_workers_never_push_a_step_twice(tmp_path: Path, postgres: Postgres) -> None:
    push = PushEndpoint()
    try:
        db = postgres.create_db("escalation")
        seeded = subprocess.run([sys.executable, str(ROOT / "tests" / "community_seed.py"), "--db", db, "--folder",
                                 str(tmp_path), "--alerts", str(ALERTS), "--notify", push.url("li")],
                                capture_output=True, text=True, timeout=120, env=clean_env())
        assert seeded.returncode == 0, seeded.stderr
        t0 = seeded.stdout.strip().splitlines()[-1]
        workers = [subprocess.Popen(eldergate_cmd("community", "escalate", "--db", db, "--now", t0), cwd=tmp_path,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=clean_env())
                   for _ in range(2)]
        outs = [w.communicate(timeout=120)[0] for w in workers]
        assert all(w.returncode == 0 for w in workers), outs
        per_worker = [int(re.search(r"(\d+) push", o).group(1)) for o in outs]  # type: ignore[union-attr]
        pushed = Counter(re.search(r"/console/alerts/(\S+)", body["message"]).group(1)  # type: ignore[union-attr]
                         for _path, body in push.received)
        assert sum(per_worker) == ALERTS and len(pushed) == ALERTS
        assert set(pushed.values()) == {1}, f"pushed twice: {[a for a, n in pushed.items() if n > 1]}"
        # a second pass finds nothing left to do
        again = community("escalate", "--db", db, "--now", t0, cwd=tmp_path)
        assert "0 push(es)" in again.stdout
        print(f"pushes per worker: {per_worker}")
    finally:
        push.close()
