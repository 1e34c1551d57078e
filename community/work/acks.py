"""A person's acknowledgement on its way to the gateway: sent at once, then resent, backing off
1 → 30 s, until the gateway answers on ``acked`` (docs/contract.md)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction

from eldergate.community.models import Gateway, OutgoingAck
from eldergate.community.models.audit import record
from eldergate.community.work.publisher import Publisher
from eldergate.contract.messages import AckMessage, topic

LONGEST_WAIT_S = 30.0


def send_due(now: datetime, prefix: str, publisher: Publisher, limit: int = 200) -> int:
    with transaction.atomic():
        due = list(OutgoingAck.objects.select_for_update(skip_locked=True).select_related("alert__gateway")
                   .filter(confirmed_at__isnull=True, next_at__lte=now).order_by("next_at")[:limit])
        for p in due:
            p.sent += 1
            p.next_at = now + timedelta(seconds=p.wait_s)
            p.wait_s = min(p.wait_s * 2, LONGEST_WAIT_S)
            p.save(update_fields=["sent", "next_at", "wait_s"])
    for p in due:
        gw = p.alert.gateway
        msg = AckMessage(alert_id=p.alert.alert_id, kind="acknowledged", by=p.by)
        publisher.publish(topic(prefix, gw.site, gw.gateway, "ack"), msg.model_dump_json(), qos=1)
    return len(due)


def confirmed(gw: Gateway, alert_id: str, now: datetime) -> bool:
    """The gateway applied and stored it: stop resending. Only its own alert's, never another's."""
    n = (OutgoingAck.objects.filter(alert__gateway=gw, alert__alert_id=alert_id, confirmed_at__isnull=True)
         .update(confirmed_at=now))
    if n:
        record(now, "gateway", "acknowledgement_confirmed", f"alert:{gw.site}.{gw.gateway}.{alert_id}")
    return bool(n)


def reset_backoff(now: datetime) -> int:
    """The broker came back (or the gateway did): every unconfirmed acknowledgement is due now."""
    return OutgoingAck.objects.filter(confirmed_at__isnull=True).update(next_at=now, wait_s=1.0)
