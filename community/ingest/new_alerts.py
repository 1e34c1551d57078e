"""Alerts the server has not seen before, created together: a replay after an outage brings one
new alert per home at once, and the time it takes to drain is the time a person waits.

One alert alone costs a lookup, an insert, its history, its escalation steps and an audit entry,
each a round trip inside its own savepoint. A batch of them costs one query for what exists, one
for the residents, one for the snoozes, one INSERT for the alerts and one statement each, run per
row (``rows.insert``), for their history, steps and audit (``create_all``), whatever the batch's
size. ``alert_row`` builds the same row for the one-by-one path (``store._alert``), so both make
the same alert.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from eldergate.community.clock import from_unix
from eldergate.community.config import CommunityConfig
from eldergate.community.ingest import rows
from eldergate.community.models import Alert, AlertState, Gateway, Home, Resident, Snooze
from eldergate.community.models.audit import AuditEntry, audit_entry
from eldergate.community.work import escalation
from eldergate.community.work.server_alerts import pages_nobody
from eldergate.community.work.workflow import changed_all
from eldergate.contract.alert_kinds import AlertKind
from eldergate.contract.messages import AlertMessage


def trusted(t: float, now: datetime, cfg: CommunityConfig) -> bool:
    at = now.timestamp()
    return at - cfg.ingest.past_days * 86400 <= t <= at + cfg.ingest.future_s


def gateway_time(t: float, now: datetime, cfg: CommunityConfig) -> datetime:
    """A gateway's time for an alert: its own when plausible, the server's otherwise."""
    return from_unix(t) if trusted(t, now, cfg) else now


def alert_row(gw: Gateway, msg: AlertMessage, now: datetime, cfg: CommunityConfig, resident: Resident | None,
              snoozed: bool | None) -> Alert:
    """The alert as first stored (not saved). A box not in the registry is quarantined: stored and
    receipted, seen by the platform operator only, paging nobody until it is adopted into a home."""
    home = gw.home
    raised_at = gateway_time(msg.raised_at, now, cfg)
    evidence = msg.evidence if raised_at != now else {**msg.evidence, "gateway_raised_at": msg.raised_at}
    return Alert(
        alert_id=msg.id, gateway=gw, community=home.community if home else None, resident=resident,
        resident_key=msg.resident, kind=msg.kind, severity=msg.severity, room=msg.room, sensor=msg.sensor,
        title_zh=msg.title_zh, title_en=msg.title_en, evidence=evidence, paged_by_gateway=sorted(set(msg.paged)),
        test=msg.kind == AlertKind.TEST or pages_nobody(home, now, snoozed),
        state="received", raised_at=raised_at, received_at=now,
        group_key=f"{gw.site}/{gw.gateway}/{msg.resident}/{msg.kind}")


def history(alert: Alert) -> list[AlertState]:
    """A new alert's history: raised by its box, received by the server, and whom its box paged."""
    return [AlertState(alert=alert, state="raised", at=alert.raised_at, by="gateway", source="gateway"),
            AlertState(alert=alert, state="received", at=alert.received_at, by="server", source="server"),
            *escalation.paged_states(alert, alert.paged_by_gateway, alert.received_at)]


def audit_row(alert: Alert, now: datetime) -> AuditEntry:
    """What the one-by-one path's ``record`` writes for a new alert (``store._alert``)."""
    return audit_entry(now, "gateway", "raised", alert, kind=alert.kind, unknown_gateway=alert.community_id is None)


def unseen(candidates: Sequence[tuple[Gateway, AlertMessage]]) -> list[tuple[Gateway, AlertMessage]]:
    """The candidates no alert row exists for yet, each (gateway, id) once (one query)."""
    if not candidates:
        return []
    # one plain query (gateways × ids, a few more rows than asked): an OR of a Q per gateway costs
    # Django more than the query itself on a replay's batch
    wanted = {(gw.pk, msg.id) for gw, msg in candidates}
    existing = {row for row in Alert.objects.filter(gateway_id__in={pk for pk, _ in wanted},
                                                     alert_id__in={aid for _, aid in wanted})
                .values_list("gateway_id", "alert_id") if row in wanted}
    out: list[tuple[Gateway, AlertMessage]] = []
    for gw, msg in candidates:
        if (gw.pk, msg.id) not in existing:
            existing.add((gw.pk, msg.id))  # a second copy in the batch is a resend: the one-by-one path
            out.append((gw, msg))
    return out


def create_all(new: Sequence[tuple[Gateway, AlertMessage]], now: datetime, cfg: CommunityConfig) -> list[Alert]:
    """Create them all, in the caller's transaction (its savepoint decides what a conflict undoes)."""
    homes = {gw.home_id for gw, _msg in new if gw.home_id is not None}
    with_community = Home.objects.select_related("community").in_bulk(homes)
    for gw, _msg in new:  # one query for the batch, not one per gateway (the ingest loads gateways alone)
        home = with_community.get(gw.home_id) if gw.home_id is not None else None
        if home is not None and not Gateway.home.is_cached(gw):
            gw.home = home
    residents: dict[tuple[int | None, str], Resident] = {
        (r.home_id, r.resident_id): r for r in Resident.objects.filter(home_id__in=homes)}
    snoozed = set(Snooze.objects.filter(home_id__in=homes, created__lte=now, until__gt=now)
                  .values_list("home_id", flat=True))
    # primary keys come back (RETURNING on both databases): the alerts' rows below need them
    alerts = Alert.objects.bulk_create([alert_row(gw, msg, now, cfg, residents.get((gw.home_id, msg.resident)),
                                                  gw.home_id in snoozed) for gw, msg in new])
    rows.insert([s for a in alerts for s in history(a)])
    rows.insert([j for a, (_gw, msg) in zip(alerts, new, strict=True) if a.community_id is not None
                 for j in escalation.steps_for(a, cfg, escalation.hold_for(msg, now))])
    rows.insert([audit_row(a, now) for a in alerts])
    tests = [gw.pk for gw, msg in new if msg.kind == AlertKind.TEST]
    if tests:
        Gateway.objects.filter(pk__in=tests).update(last_test_ok=now)
    changed_all(alerts)
    return alerts
