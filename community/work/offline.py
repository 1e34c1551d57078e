"""Homes that went silent. The retained status's last will says "offline" when the connection
dies; a server-side "last seen" timer catches what the will cannot (a half-open connection, a
will lost with a broker). A silent home cannot call for help, so it is an alert of its own, with
its own ladder and reminders, cleared only by a fresh message from the gateway (never by a
retained one replayed at subscription)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q

from eldergate.community.config import CommunityConfig
from eldergate.community.models import Alert, Gateway
from eldergate.community.work.publisher import Publisher
from eldergate.community.work.server_alerts import pages_nobody, raise_on_server
from eldergate.community.work.workflow import server_resolve
from eldergate.contract.alert_kinds import AlertKind
from eldergate.contract.messages import CommandMessage, topic

log = logging.getLogger(__name__)
KIND = AlertKind.HOME_OFFLINE


def touch_s(cfg: CommunityConfig) -> float:
    """How stale ``last_seen`` may be before the ingest writes it again (a tenth of the silence
    that raises home_offline, at most a minute); the silence check allows for it, so a home is
    never called silent early, and at most this much late."""
    return min(60.0, cfg.offline.silence_s / 10)


def open_offline(gw: Gateway) -> Alert | None:
    return Alert.objects.filter(gateway=gw, kind=KIND, resolved_at__isnull=True).first()


def check(now: datetime, cfg: CommunityConfig) -> int:
    """Raise home_offline for every gateway whose will fired long enough ago or that fell silent."""
    will_cut = now - timedelta(seconds=cfg.offline.grace_s)
    silence_cut = now - timedelta(seconds=cfg.offline.silence_s + touch_s(cfg))
    raised = 0
    candidates = Gateway.objects.filter(Q(status="offline", status_at__lte=will_cut) | Q(last_seen__lte=silence_cut))
    for gw in candidates.select_related("home__community"):
        with transaction.atomic():
            # of=self: PostgreSQL cannot lock the nullable side of the outer join to a home
            gw = Gateway.objects.select_for_update(of=("self",)).select_related("home__community").get(pk=gw.pk)
            if open_offline(gw) is not None:
                continue
            why = "last will" if gw.status == "offline" else "silence"
            since = gw.status_at if why == "last will" else gw.last_seen
            home = gw.home
            raise_on_server(KIND, gw, home.community if home else None, now, cfg,
                            alert_id=f"srv-offline-{gw.site}-{gw.gateway}-{int(now.timestamp())}",
                            evidence={"why": why, "since": since.isoformat() if since else None},
                            test=pages_nobody(home, now), why=why)
            Gateway.objects.filter(pk=gw.pk).update(offline=True)
            raised += 1
            log.warning("home %s offline (%s)", gw, why)
    return raised


def fresh_message(gw: Gateway, now: datetime) -> None:
    """Any fresh message proves the home is back: close its offline alert."""
    alert = open_offline(gw)
    Gateway.objects.filter(pk=gw.pk).update(offline=False)
    if alert is not None:
        server_resolve(alert, now, "a fresh message from the gateway")
        log.info("home %s back online", gw)


def test_round(now: datetime, cfg: CommunityConfig, publisher: Publisher) -> int:
    """The monthly automatic test_alert round trip: ask each home for one, see it arrive."""
    days = cfg.offline.test_every_days
    if days <= 0:
        return 0
    cut = now - timedelta(days=days)
    due = list(Gateway.objects.filter(Q(last_test_sent__lte=cut) | Q(last_test_sent__isnull=True),
                                      home__isnull=False)[:100])
    for gw in due:
        cmd = CommandMessage(command="test_alert")
        publisher.publish(topic(cfg.broker.prefix, gw.site, gw.gateway, "cmd"), cmd.model_dump_json(), qos=1)
        gw.last_test_sent = now
        gw.save(update_fields=["last_test_sent"])
    return len(due)
