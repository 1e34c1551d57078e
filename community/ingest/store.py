"""One message from a gateway, stored in one transaction; the receipt it earns is returned and
sent by the caller only after that transaction has committed.

Idempotent by unique keys: (gateway, alert id) for alerts, (alert, state) for their history, per
event, per summary period, per vitals minute. A resend whose receipt was lost changes nothing and is
receipted again. A malformed or off-contract payload raises Malformed before anything is written:
no phantom gateway, no phantom home. A message only ever touches its own gateway's rows.

Server time decides what is stored when (``received_at``, the audit, retention); the gateway's
times are kept as evidence: telemetry dated outside the window ``[now - ingest.past_days,
now + ingest.future_s]`` is refused, and an alert's times are clamped to the server's (an alert is
never refused for its box's clock).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from django.db import IntegrityError, connection, transaction
from django.db.models import Field
from pydantic import BaseModel, ValidationError

from eldergate.community.clock import from_unix
from eldergate.community.config import CommunityConfig
from eldergate.community.ingest import new_alerts
from eldergate.community.ingest.rows import placeholders
from eldergate.community.models import (
    Alert,
    AlertState,
    Event,
    Gateway,
    Resident,
    Summary,
    VitalsLatest,
    VitalsMinute,
)
from eldergate.community.models.audit import AuditEntry, audit_entry, record
from eldergate.community.work import acks, escalation, fanout, offline
from eldergate.community.work.workflow import changed, gateway_state
from eldergate.contract.alert_kinds import AlertKind
from eldergate.contract.bounds import MAX_PAYLOAD_BYTES
from eldergate.contract.messages import (
    AckAppliedMessage,
    AckMessage,
    AlertMessage,
    EventMessage,
    StatusMessage,
    SummaryMessage,
    VitalsMessage,
)

MODELS: dict[str, type[BaseModel]] = {
    "alerts": AlertMessage, "events": EventMessage, "vitals": VitalsMessage, "summary": SummaryMessage,
    "status": StatusMessage, "acked": AckAppliedMessage,
}


class Malformed(Exception):
    """Not JSON, not the contract, a payload whose site/gateway contradicts its topic, or one dated
    outside the window: dead-lettered, never stored."""


@dataclass(frozen=True)
class Stored:
    receipt: AckMessage | None = None
    new: bool = False  # something not seen before was stored


def parse(leaf: str, site: str, gateway: str, payload: bytes, max_bytes: int = MAX_PAYLOAD_BYTES) -> BaseModel:
    model = MODELS.get(leaf)
    if model is None:
        raise Malformed(f"unknown topic leaf {leaf!r}")
    if len(payload) > max_bytes:
        raise Malformed(f"payload of {len(payload)} bytes, more than {max_bytes}")
    try:
        msg = model.model_validate_json(payload)
    except ValidationError as err:
        first = err.errors()[0]
        raise Malformed(f"{'.'.join(str(p) for p in first['loc']) or 'payload'}: {first['msg']}") from None
    except (ValueError, json.JSONDecodeError) as err:
        raise Malformed(str(err)[:120]) from None
    if getattr(msg, "site", site) != site or getattr(msg, "gateway", gateway) != gateway:
        raise Malformed("the payload's site/gateway is not its topic's")
    return msg


def in_window(msg: BaseModel, now: datetime, cfg: CommunityConfig) -> None:
    """Telemetry dated outside the window is refused (a vitals message from ten years ahead would
    otherwise stand as the resident's latest heart rate for ten years)."""
    ts: list[float] = []
    if isinstance(msg, EventMessage | VitalsMessage):
        ts = [msg.t]
    elif isinstance(msg, SummaryMessage):
        ts = [msg.period_start, msg.period_end]
    for t in ts:
        if not new_alerts.trusted(t, now, cfg):
            raise Malformed(f"dated {from_unix(t).isoformat(timespec='seconds')}, outside the window the server "
                            f"accepts ({cfg.ingest.past_days:g} days back to {cfg.ingest.future_s:g} s ahead)")


@dataclass(frozen=True)
class Incoming:
    leaf: str
    site: str
    gateway: str
    payload: bytes
    retained: bool = False


@dataclass
class Outcome:
    stored: Stored | None = None
    malformed: str | None = None  # dead-lettered, with this reason
    refused: str | None = None  # not stored and not dead-lettered (the box resends what matters)


def always(_key: tuple[str, str]) -> bool:
    return True


def store_many(items: list[Incoming], now: datetime, cfg: CommunityConfig,
               admit: Callable[[tuple[str, str]], bool] = always) -> list[Outcome]:
    """A batch in one transaction (one commit, one fsync), each message in its own savepoint so
    that one conflict does not undo the others. The caller receipts only after this returns.
    ``admit`` says whether a gateway the registry does not know may be quarantined now (a flood
    of invented gateways is refused, not stored)."""
    outcomes = [Outcome() for _ in items]
    parsed: list[tuple[int, Incoming, BaseModel]] = []
    for i, it in enumerate(items):
        try:
            msg = parse(it.leaf, it.site, it.gateway, it.payload, cfg.ingest.max_payload_bytes)
            in_window(msg, now, cfg)
            parsed.append((i, it, msg))
        except Malformed as err:
            outcomes[i].malformed = str(err)
    raced: list[tuple[int, Incoming, BaseModel]] = []
    fresh: dict[tuple[str, str], bool] = {}
    for _i, it, _msg in parsed:
        fresh[(it.site, it.gateway)] = fresh.get((it.site, it.gateway), False) or not it.retained
    with transaction.atomic():
        gateways = _gateways(fresh, now, admit, offline.touch_s(cfg))
        # a resend of what is stored already (most alert messages in a burst) costs no write
        known, paged = _known_states(parsed, gateways)
        created = _create_new_alerts(parsed, gateways, known, now, cfg)
        vitals = _VitalsBatch()
        statuses = _StatusBatch(now, cfg)
        events: list[Event] = []
        for i, it, msg in parsed:
            key = (it.site, it.gateway)
            gw = gateways.get(key)
            if gw is None:
                if key in gateways:  # an unknown gateway over the quarantine's rate: it may come back later
                    outcomes[i].refused = "quarantine full"
                else:
                    raced.append((i, it, msg))
                continue
            if isinstance(msg, AlertMessage) and (gw.pk, msg.id) in created:
                created.discard((gw.pk, msg.id))  # a second copy in the batch is a resend (known below)
                known.add((gw.pk, msg.id, "raised"))
                outcomes[i].stored = Stored(receipt=receipt(msg),
                                            new=True)
            elif isinstance(msg, AlertMessage) and (gw.pk, msg.id, msg.state) in known:
                if not set(msg.paged) <= paged.get((gw.pk, msg.id), set()):  # its box paged someone since
                    _gateway_paged(gw, msg, now)
                outcomes[i].stored = Stored(receipt=receipt(msg))
            elif isinstance(msg, VitalsMessage):  # folded per resident and minute, written once below
                vitals.add(gw, msg)
                outcomes[i].stored = Stored(new=True)
            elif isinstance(msg, EventMessage):  # one INSERT ... ON CONFLICT DO NOTHING for the batch
                events.append(_event_row(gw, msg))
                outcomes[i].stored = Stored(new=True)
            elif isinstance(msg, StatusMessage):  # the last one per gateway, all written in one statement
                statuses.add(gw, msg, it.retained)
                outcomes[i].stored = Stored(new=True)
            elif isinstance(msg, AckAppliedMessage):  # an update only: nothing can conflict
                outcomes[i].stored = _apply(gw, msg, now, cfg, it.retained)
            else:
                try:
                    with transaction.atomic():  # a savepoint: a conflict undoes this message only
                        outcomes[i].stored = _apply(gw, msg, now, cfg, it.retained)
                except IntegrityError:
                    raced.append((i, it, msg))  # another ingest worker inserted the same new row
        vitals.write()
        statuses.write()
        Event.objects.bulk_create(events, ignore_conflicts=True)
        fanout.announce()  # one notification per batch: the pages look once
    for i, it, msg in raced:
        outcomes[i].stored = _store_parsed(msg, it.site, it.gateway, now, cfg, it.retained)
    return outcomes


def receipt(msg: AlertMessage) -> AckMessage:
    """The server has this copy of the alert, and so whom it says its gateway paged."""
    return AckMessage(alert_id=msg.id, kind="received", state=msg.state, paged=msg.paged)


def store(leaf: str, site: str, gateway: str, payload: bytes, now: datetime, cfg: CommunityConfig,
          retained: bool = False) -> Stored:
    """One message, through the production batch path (a batch of one): what the tests and the
    tools call. Malformed is raised where the ingest would dead-letter it."""
    out = store_many([Incoming(leaf, site, gateway, payload, retained)], now, cfg, always)[0]
    if out.malformed is not None:
        raise Malformed(out.malformed)
    if out.stored is None:
        raise Malformed(out.refused or "not stored")
    return out.stored


def _store_parsed(msg: BaseModel, site: str, gateway: str, now: datetime, cfg: CommunityConfig,
                  retained: bool) -> Stored:
    in_window(msg, now, cfg)
    for attempt in range(3):
        try:
            with transaction.atomic():
                gw = _gateway(site, gateway, now, retained)
                return _apply(gw, msg, now, cfg, retained)
        except IntegrityError:
            if attempt == 2:  # two ingest workers raced for the same new row: the retry finds it
                raise
    raise AssertionError("unreachable")


def _create_new_alerts(parsed: list[tuple[int, Incoming, BaseModel]], gateways: dict[tuple[str, str], Gateway | None],
                       known: set[tuple[int, str, str]], now: datetime, cfg: CommunityConfig) -> set[tuple[int, str]]:
    """The batch's alerts raised and never seen before, created together (``new_alerts.py``):
    (gateway pk, alert id) of each. Another ingest worker creating one of them at the same moment
    undoes this savepoint only, and the one-by-one path below takes them."""
    candidates: list[tuple[Gateway, AlertMessage]] = []
    for _i, it, msg in parsed:
        gw = gateways.get((it.site, it.gateway))
        if gw is not None and isinstance(msg, AlertMessage) and msg.state == "raised" \
                and (gw.pk, msg.id, msg.state) not in known:
            candidates.append((gw, msg))
    if not candidates:
        return set()
    try:
        with transaction.atomic():
            return {(a.gateway_id, a.alert_id) for a in new_alerts.create_all(new_alerts.unseen(candidates), now, cfg)}
    except IntegrityError:
        return set()


def _known_states(parsed: list[tuple[int, Incoming, BaseModel]], gateways: dict[tuple[str, str], Gateway | None],
                  ) -> tuple[set[tuple[int, str, str]], dict[tuple[int, str], set[str]]]:
    """(gateway pk, alert id, state) already stored for the batch's alert messages, and the roles
    each alert's gateway said it paged, in one query."""
    wanted: dict[int, set[str]] = {}
    for _i, it, msg in parsed:
        gw = gateways.get((it.site, it.gateway))
        if isinstance(msg, AlertMessage) and gw is not None:
            wanted.setdefault(gw.pk, set()).add(msg.id)
    if not wanted:
        return set(), {}
    # one plain query (gateways × ids, a few more rows than asked), matched in Python: an OR of a
    # Q per gateway cost Django 12 % of the workers' CPU during a replay
    ids = set().union(*wanted.values())
    rows = [r for r in AlertState.objects.filter(alert__gateway_id__in=wanted, alert__alert_id__in=ids)
            .values_list("alert__gateway_id", "alert__alert_id", "state", "alert__paged_by_gateway")
            if r[1] in wanted[r[0]]]
    return {(pk, aid, state) for pk, aid, state, _roles in rows}, {(pk, aid): set(roles) for pk, aid, _s, roles in rows}


def _gateway_paged(gw: Gateway, msg: AlertMessage, now: datetime) -> None:
    """A resend of a stored alert says its box has paged someone since (docs/alert-lifecycle.md)."""
    alert = Alert.objects.select_for_update().filter(gateway=gw, alert_id=msg.id).first()
    if alert is not None:
        escalation.gateway_paged(alert, list(msg.paged), now)


# what the batch path reads of a gateway (its statuses are written, not read): the other columns,
# its sensors' JSON among them, cost a PostgreSQL worker more to load than the query itself
INGEST_FIELDS = ("site", "gateway", "home", "last_seen", "offline")


def _gateways(fresh: dict[tuple[str, str], bool], now: datetime, admit: Callable[[tuple[str, str]], bool],
              touch_s: float) -> dict[tuple[str, str], Gateway | None]:
    """The batch's gateways in one query, the new ones created (None where the quarantine is full),
    and one update of ``last_seen`` for those that sent something fresh (a retained copy says nothing
    about now) and were last seen ``touch_s`` or more ago: a city's boxes report every 10 s, and
    rewriting each one's row every time was most of the ingest's writes."""
    # the gateway rows alone: their homes and communities are looked up for new alerts only
    # (new_alerts.create_all); three model objects a row cost 20 % of a PostgreSQL worker's replay
    found: dict[tuple[str, str], Gateway | None] = dict(_loaded(set(fresh)))
    new = []
    for key in sorted(k for k in fresh if k not in found):
        if admit(key):
            new.append(key)
        else:
            found[key] = None
    found |= _first_seen(new, fresh, now)
    seen = [g for key, g in found.items() if fresh[key] and g is not None]
    # abs: a last_seen ahead of now (the server's clock was set back) is stale too, not fresh for days
    due = [g.pk for g in seen if g.last_seen is None or abs((now - g.last_seen).total_seconds()) >= touch_s]
    if due:
        Gateway.objects.filter(pk__in=due).update(last_seen=now)
    for g in seen:
        if g.offline:
            offline.fresh_message(g, now)
    return found


def _loaded(keys: set[tuple[str, str]], *also: str) -> dict[tuple[str, str], Gateway]:
    """These gateways' rows, with the columns the batch reads (and ``also``), in one query."""
    # both columns, so that the (site, gateway) index finds them: on the gateway alone, SQLite and
    # PostgreSQL read the whole table once per batch (a third of a worker's time at 10,000 homes)
    return {(g.site, g.gateway): g for g in Gateway.objects.only(*INGEST_FIELDS, *also)
            .filter(site__in={site for site, _gw in keys}, gateway__in={gw for _site, gw in keys})
            if (g.site, g.gateway) in keys}


def _first_seen(new: list[tuple[str, str]], fresh: dict[tuple[str, str], bool], now: datetime,
                ) -> dict[tuple[str, str], Gateway]:
    """Gateways never seen before, created together in one order (``new`` is sorted): two ingest
    workers meeting the same new boxes wait for each other in that order instead of deadlocking
    (PostgreSQL then undoes one batch after a second's wait: a city's first connections, one by
    one, took over a minute). A box the other worker created first is found, not created again."""
    if not new:
        return {}
    Gateway.objects.bulk_create([Gateway(site=site, gateway=gw, first_seen=now, last_test_sent=now,
                                         last_seen=now if fresh[(site, gw)] else None) for site, gw in new],
                                ignore_conflicts=True)
    rows = _loaded(set(new), "first_seen")
    AuditEntry.objects.bulk_create([audit_entry(now, "server", "gateway_first_seen", g)
                                    for g in rows.values() if g.first_seen == now])
    return rows


def _gateway(site: str, gateway: str, now: datetime, retained: bool) -> Gateway:
    gw, created = Gateway.objects.select_related("home__community").get_or_create(
        site=site, gateway=gateway, defaults={"first_seen": now, "last_seen": None if retained else now,
                                              "last_test_sent": now})
    if created:
        record(now, "server", "gateway_first_seen", gw)
    elif not retained:
        Gateway.objects.filter(pk=gw.pk).update(last_seen=now)
        if gw.offline:
            offline.fresh_message(gw, now)
    return gw


def _apply(gw: Gateway, msg: BaseModel, now: datetime, cfg: CommunityConfig, retained: bool) -> Stored:
    if isinstance(msg, AlertMessage):
        return _alert(gw, msg, now, cfg)
    if isinstance(msg, AckAppliedMessage):
        acks.confirmed(gw, msg.alert_id, now)
        return Stored()
    if isinstance(msg, StatusMessage):
        statuses = _StatusBatch(now, cfg)
        statuses.add(gw, msg, retained)
        statuses.write()
        return Stored(new=True)
    if isinstance(msg, EventMessage):
        n = len(Event.objects.bulk_create([_event_row(gw, msg)], ignore_conflicts=True))
        return Stored(new=n > 0)
    if isinstance(msg, VitalsMessage):
        _vitals(gw, msg)
        return Stored(new=True)
    if isinstance(msg, SummaryMessage):
        _, new = Summary.objects.get_or_create(
            gateway=gw, resident_key=msg.resident, period_start=from_unix(msg.period_start),
            defaults={"period_end": from_unix(msg.period_end), "figures": msg.figures})
        return Stored(new=new)
    raise Malformed(f"no store for {type(msg).__name__}")


def _event_row(gw: Gateway, msg: EventMessage) -> Event:
    return Event(gateway=gw, resident_key=msg.resident, name=msg.name, t=from_unix(msg.t), sensor=msg.sensor,
                 room=msg.room, value=msg.value, details=msg.details)


def _alert(gw: Gateway, msg: AlertMessage, now: datetime, cfg: CommunityConfig) -> Stored:
    home = gw.home
    alert = Alert.objects.select_for_update().filter(gateway=gw, alert_id=msg.id).first()
    created = alert is None
    if alert is not None and msg.paged:
        escalation.gateway_paged(alert, list(msg.paged), now)
    if alert is None:
        resident = Resident.objects.filter(home=home, resident_id=msg.resident).first() if home else None
        alert = new_alerts.alert_row(gw, msg, now, cfg, resident, None)  # None: it looks up the snooze itself
        alert.save()
        AlertState.objects.bulk_create(new_alerts.history(alert))  # a new alert has no history yet
        if home is not None:
            escalation.schedule(alert, cfg, new=True, hold_until=escalation.hold_for(msg, now))
        record(now, "gateway", "raised", alert, kind=msg.kind, unknown_gateway=home is None)
        if msg.kind == AlertKind.TEST:
            Gateway.objects.filter(pk=gw.pk).update(last_test_ok=now)
    t = msg.resolved_at if msg.state == "resolved" and msg.resolved_at else msg.sent_at
    new = gateway_state(alert, msg.state, new_alerts.gateway_time(t, now, cfg), msg.acknowledged_by, now) \
        if msg.state != "raised" else created
    if new and not (created and msg.state == "raised"):  # a new raised alert was saved as it was created
        alert.save()
    if created or new:
        changed(alert)
    return Stored(receipt=receipt(msg), new=created or new)


class _StatusBatch:
    """A batch's status messages: each gateway's last one counts (it says what holds now), and all
    are written by one prepared UPDATE run for each (executemany: psycopg pipelines it, SQLite
    loops in C). Django's bulk_update builds a CASE per field per row in Python: measured at 23 %
    of the workers' CPU during a 10,000-home replay."""

    FIELDS = ("status", "status_at", "version", "unsent_alerts", "sensors", "config_applied_version",
              "config_refused_version", "config_refused", "started_at", "update_version", "update_state",
              "update_reason")

    def __init__(self, now: datetime, cfg: CommunityConfig) -> None:
        self.now, self.cfg = now, cfg
        self.last: dict[int, Gateway] = {}

    def add(self, gw: Gateway, msg: StatusMessage, retained: bool) -> None:
        gw.status = msg.state
        gw.status_at = new_alerts.gateway_time(msg.sent_at, self.now, self.cfg) if retained else self.now
        gw.version = msg.version
        gw.unsent_alerts = msg.unsent_alerts
        gw.sensors = msg.sensors
        gw.config_applied_version = msg.config_version
        gw.config_refused_version = msg.config_refused_version
        gw.config_refused = msg.config_refused
        gw.started_at = from_unix(msg.started_at) if msg.started_at else None
        gw.update_version, gw.update_state, gw.update_reason = msg.update_version, msg.update_state, msg.update_reason
        self.last[gw.pk] = gw

    def write(self) -> None:
        if not self.last:
            return
        meta, q = Gateway._meta, connection.ops.quote_name
        fields = [cast(Field, meta.get_field(name)) for name in self.FIELDS]  # type: ignore[type-arg]
        sets = ", ".join(f"{q(str(f.column))} = %s" for f in fields)
        rows = [[f.get_db_prep_save(getattr(gw, f.name), connection) for f in fields] + [pk]
                for pk, gw in sorted(self.last.items())]  # one order: two workers cannot deadlock on it
        assert meta.pk is not None  # a concrete model always has one
        with connection.cursor() as cur:
            cur.executemany(f"UPDATE {q(meta.db_table)} SET {sets} WHERE {q(str(meta.pk.column))} = %s", rows)


class _VitalsBatch:
    """A burst of vitals folded before it is written: the latest per resident, one update per minute."""

    def __init__(self) -> None:
        self.groups: dict[tuple[int, str, datetime], list[VitalsMessage]] = {}
        self.gateways: dict[int, Gateway] = {}

    def add(self, gw: Gateway, msg: VitalsMessage) -> None:
        t = from_unix(msg.t)
        minute = t - timedelta(seconds=t.second, microseconds=t.microsecond)
        self.gateways[gw.pk] = gw
        self.groups.setdefault((gw.pk, msg.resident, minute), []).append(msg)

    def write(self) -> None:
        """Two statements, each run for all the batch's rows: each minute's aggregate added to (an
        upsert that adds counts and sums and keeps the extremes), and the latest value per resident
        (only if newer)."""
        if not self.groups:
            return
        dt = connection.ops.adapt_datetimefield_value
        minutes: list[tuple[Any, ...]] = []
        latest: dict[tuple[int, str], VitalsMessage] = {}
        for (gpk, resident, minute), msgs in sorted(self.groups.items()):  # one order: fewer deadlocks
            hrs = [m.heart_rate_bpm for m in msgs if m.heart_rate_bpm is not None]
            brs = [m.breathing_rate_bpm for m in msgs if m.breathing_rate_bpm is not None]
            minutes.append((gpk, resident, dt(minute), len(msgs), len(hrs), sum(hrs), min(hrs, default=None),
                            max(hrs, default=None), len(brs), sum(brs), min(brs, default=None), max(brs, default=None)))
            newest = max(msgs, key=lambda m: m.t)
            if (gpk, resident) not in latest or newest.t > latest[(gpk, resident)].t:
                latest[(gpk, resident)] = newest
        vm, vl = VitalsMinute._meta.db_table, VitalsLatest._meta.db_table

        def lower(col: str, pick: str) -> str:  # the smaller (or larger) of old and new, NULL meaning none
            return (f"{col} = CASE WHEN {vm}.{col} IS NULL OR excluded.{col} {pick} {vm}.{col} "
                    f"THEN excluded.{col} ELSE {vm}.{col} END")

        # one prepared row statement run for every row (executemany: psycopg pipelines it, SQLite
        # loops in C), not one statement of all the rows: psycopg parses a statement's text for its
        # placeholders on every call, and a batch's thousands of them cost a third of a PostgreSQL
        # worker's CPU during a 10,000-home replay
        with connection.cursor() as cur:
            cur.executemany(
                f"INSERT INTO {vm} (gateway_id, resident_key, minute, n, hr_n, hr_sum, hr_min, hr_max, br_n, br_sum, "
                f"br_min, br_max) VALUES {placeholders(12)} ON CONFLICT (gateway_id, resident_key, minute) "
                f"DO UPDATE SET n = {vm}.n + excluded.n, hr_n = {vm}.hr_n + excluded.hr_n, "
                f"hr_sum = {vm}.hr_sum + excluded.hr_sum, br_n = {vm}.br_n + excluded.br_n, "
                f"br_sum = {vm}.br_sum + excluded.br_sum, {lower('hr_min', '<')}, {lower('hr_max', '>')}, "
                f"{lower('br_min', '<')}, {lower('br_max', '>')}", minutes)
            rows = [(gpk, resident, dt(from_unix(m.t)), m.heart_rate_bpm, m.breathing_rate_bpm, m.quality, m.in_bed)
                    for (gpk, resident), m in latest.items()]
            cur.executemany(
                f"INSERT INTO {vl} (gateway_id, resident_key, t, heart_rate_bpm, breathing_rate_bpm, quality, in_bed) "
                f"VALUES {placeholders(7)} ON CONFLICT (gateway_id, resident_key) DO UPDATE SET t = excluded.t, "
                "heart_rate_bpm = excluded.heart_rate_bpm, breathing_rate_bpm = excluded.breathing_rate_bpm, "
                f"quality = excluded.quality, in_bed = excluded.in_bed WHERE excluded.t >= {vl}.t", rows)


def _vitals(gw: Gateway, msg: VitalsMessage) -> None:
    """One vitals message on its own (the batch path folds them first)."""
    batch = _VitalsBatch()
    batch.add(gw, msg)
    batch.write()
