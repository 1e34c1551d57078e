"""Run as a process on a PostgreSQL database (tests/community/test_postgres_ingest.py):
``offline``: two gateways, one silent and one whose will fired, checked twice by the offline timer;
``poison``: a batch of 300 honest events and a fall with an over-long kind and a NUL in a title;
``audit``: every way to rewrite the audit trail (tests/audit_probe.py);
``rows``: a row COPY refuses (ingest/rows.py) raises Django's error, as the ingest expects.
Prints one line of figures."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from community_seed import community_with_a_home


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=("offline", "poison", "audit", "rows"))
    ap.add_argument("--db", required=True)
    ap.add_argument("--folder", type=Path, required=True)
    args = ap.parse_args()

    cfg, home = community_with_a_home(args.db, args.folder)
    from eldergate.community.models import Gateway

    now = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)
    if args.case == "audit":
        from audit_probe import try_to_rewrite

        print(try_to_rewrite())
        return
    if args.case == "rows":
        from django.db import IntegrityError, transaction

        from eldergate.community.ingest import rows
        from eldergate.community.models import AlertState

        try:
            with transaction.atomic():
                rows.insert([AlertState(alert_id=10**9, state=None, at=now, by="gateway", source="gateway")])
        except IntegrityError as err:
            print(f"refused: {type(err).__module__}.{type(err).__name__}")
        return
    if args.case == "offline":
        from eldergate.community.work import offline

        Gateway.objects.create(site="s1", gateway="quiet", home=home, last_seen=now - timedelta(hours=2))
        Gateway.objects.create(site="s1", gateway="will", status="offline", status_at=now - timedelta(hours=1),
                               last_seen=now)  # no home: an unknown box goes offline too
        print(f"raised {offline.check(now, cfg)}, again {offline.check(now, cfg)}")
        return
    from eldergate.community.clock import ManualClock
    from eldergate.community.ingest.batches import BatchStore
    from eldergate.community.ingest.store import Incoming
    from eldergate.community.models import Alert, DeadLetter, Event

    Gateway.objects.create(site="s1", gateway="gw1", home=home)
    t = now.timestamp() - 60

    def body(**kw: object) -> bytes:
        return json.dumps({"v": 1, "site": "s1", "sent_at": t, "resident": "r1", **kw}).encode()

    def alert(aid: str, **kw: object) -> bytes:
        fields: dict[str, object] = {"kind": "fall", "title_en": "fall"} | kw
        return body(gateway="gw1", id=aid, severity="critical", state="raised", room="", sensor="",
                    started=t, raised_at=t, title_zh="跌倒", **fields)

    receipts: list[str] = []

    class Publisher:
        def publish(self, topic: str, payload: str, qos: int = 1, retain: bool = False) -> bool:
            receipts.append(payload)
            return True

    items = [Incoming("events", "s1", "gw2", body(gateway="gw2", t=t - i, name="bed_exit")) for i in range(300)]
    items.insert(150, Incoming("alerts", "s1", "gw1", alert("long", kind="k" * 41)))
    items.insert(10, Incoming("alerts", "s1", "gw1", alert("nul", title_en="fa\u0000ll")))
    items.append(Incoming("alerts", "s1", "gw1", alert("fall-ok")))
    store = BatchStore(cfg, ManualClock(now), Publisher())
    assert store.store_batch(items)
    from eldergate.community.models import AlertState, AuditEntry, EscalationJob

    # the new alert's own rows, written per row (ingest/rows.py): PostgreSQL's types, read back
    fall = Alert.objects.get(alert_id="fall-ok")
    history = sorted(AlertState.objects.filter(alert=fall).values_list("state", flat=True))
    steps = sorted(EscalationJob.objects.filter(alert=fall).values_list("step", "target"))
    audit = AuditEntry.objects.get(action="raised", object_id=str(fall.pk))
    print(f"events {Event.objects.count()}, alerts {Alert.objects.count()}, dead {DeadLetter.objects.count()}, "
          f"receipts {len(receipts)}; history {history}, steps {steps[:1]} of {len(steps)}, "
          f"audit {json.dumps(audit.details, sort_keys=True)} at {audit.at == now}")


if __name__ == "__main__":
    main()
