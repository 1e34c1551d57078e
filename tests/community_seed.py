"""Run as a process: a community with one grid worker (pushes to NOTIFY_URL) and N fall alerts
stored at a fixed time, in the database at --db. Prints that time (ISO 8601)."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def community_with_a_home(db: str, folder: Path) -> tuple[Any, Any]:
    """Django started on ``db``; a street, community s1 and one home in it: (configuration, home)."""
    from eldergate.community.bootstrap import start_django
    from eldergate.community.config import parse

    cfg = parse(f'[server]\ndatabase = "{db}"\n', folder)
    start_django(cfg)
    from eldergate.community.models import Community, Home, Street

    street = Street.objects.create(name="新街")
    c = Community.objects.create(code="s1", name="s1", street=street)
    return cfg, Home.objects.create(community=c, address="幸福路 1 号")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--folder", type=Path, required=True)
    ap.add_argument("--alerts", type=int, default=50)
    ap.add_argument("--notify", required=True)
    args = ap.parse_args()

    cfg, home = community_with_a_home(args.db, args.folder)
    from eldergate.community.ingest.store import store
    from eldergate.community.models import Gateway, Resident
    from eldergate.community.tools.users import create_user

    Gateway.objects.create(site="s1", gateway="gw1", home=home)
    create_user("li", "grid-worker", community="s1", notify_url=args.notify)
    from django.contrib.auth import get_user_model

    li = get_user_model().objects.get(username="li")
    Resident.objects.create(home=home, resident_id="r1", name="x", grid_worker=li)
    t = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)
    for i in range(args.alerts):
        body = {"v": 1, "site": "s1", "gateway": "gw1", "sent_at": t.timestamp(), "id": f"fall-{i}", "kind": "fall",
                "severity": "critical", "state": "raised", "resident": "r1", "room": "b", "sensor": "f",
                "started": t.timestamp(), "raised_at": t.timestamp(), "title_zh": "跌倒", "title_en": "fall"}
        store("alerts", "s1", "gw1", json.dumps(body).encode(), t, cfg)
    print(t.isoformat())


if __name__ == "__main__":
    main()
