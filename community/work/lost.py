"""Finding a resident who is lost (#35).

- **Badges**: a printable code per resident at risk (`eldergate community badge RESIDENT_ID`, or the
  resident's page). The code opens a public page (/f/<code>) that shows nobody's name, address or
  health; its one button raises `found_by_passerby` in the resident's community with the finder's
  location and callback number, if they gave them. Scans are audited and rate-limited per code and
  per address; a second scan while the alert is open adds to it (a comment) instead of a new alert.
- **Positions** from a tracking server the family already uses (Traccar's event forwarding):
  kept for an hour, and while a lost-resident alert (not back, wandering, found) is open from an
  hour before it; then deleted.
- **Outdoor temperature**: the community's (`eldergate community weather`), sent to its homes,
  whose outings run short in the cold (signal/outings.py)."""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse

from eldergate.community.config import CommunityConfig
from eldergate.community.models import (
    AuditEntry,
    Badge,
    Comment,
    Community,
    Event,
    Gateway,
    Locator,
    Position,
    Resident,
)
from eldergate.community.models.alerts import Alert
from eldergate.community.models.audit import record
from eldergate.community.work.publisher import Publisher
from eldergate.community.work.server_alerts import raise_on_server
from eldergate.community.work.workflow import changed
from eldergate.contract.alert_kinds import AlertKind
from eldergate.contract.events import EventName as E
from eldergate.contract.messages import CommandMessage, topic

log = logging.getLogger(__name__)
FOUND = AlertKind.FOUND_BY_PASSERBY
LOST_KINDS = (AlertKind.NOT_BACK, AlertKind.WANDERING, FOUND)
SCANS_PER_CODE = (5, timedelta(minutes=10))  # a finder taps twice, a prankster forty times
SCANS_PER_ADDRESS = (20, timedelta(hours=1))
POSITIONS_KEPT = timedelta(hours=1)
OUTDOOR_RESEND = timedelta(hours=1)


# -- badges ---------------------------------------------------------------------------------------


def issue_badge(resident: Resident, by: str, now: datetime) -> Badge:
    """A new code for the resident; the old ones stop working (a lost or copied badge)."""
    with transaction.atomic():
        revoked = Badge.objects.filter(resident=resident, revoked_at__isnull=True).update(revoked_at=now)
        badge = Badge.objects.create(resident=resident, created_at=now, created_by=by[:150])
        record(now, by, "badge_issued", resident, badge=badge.pk, revoked=revoked)
    return badge


def revoke_badges(resident: Resident, by: str, now: datetime) -> int:
    n = Badge.objects.filter(resident=resident, revoked_at__isnull=True).update(revoked_at=now)
    record(now, by, "badge_revoked", resident, revoked=n)
    return n


def badge_url(cfg: CommunityConfig, badge: Badge) -> str:
    return cfg.public_url() + reverse("finder", args=[badge.code])


def live_badge(code: str) -> Badge | None:
    return (Badge.objects.filter(code=code.strip().upper()[:16], revoked_at__isnull=True)
            .select_related("resident__home__community").first())


def hotline_of(code: str) -> str:
    """The community's phone for a code, live or revoked (a revoked badge still says whom to call)."""
    b = Badge.objects.filter(code=code.strip().upper()[:16]).select_related("resident__home__community").first()
    return b.resident.home.community.hotline if b else ""


def _limited(badge: Badge, address: str, now: datetime) -> bool:
    n, window = SCANS_PER_CODE
    if AuditEntry.objects.filter(action="badge_found", object_type="badge", object_id=str(badge.pk),
                                 at__gt=now - window).count() >= n:
        return True
    n, window = SCANS_PER_ADDRESS
    return AuditEntry.objects.filter(action="badge_found", actor_name=f"finder:{address}",
                                     at__gt=now - window).count() >= n


def _number(v: Any, lo: float, hi: float) -> float | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) and lo <= x <= hi else None


def _phone(v: Any) -> str:
    digits = "".join(ch for ch in str(v or "")[:40] if ch.isdigit() or ch == "+")
    return digits[:20] if len(digits) >= 5 else ""


def found(badge: Badge, now: datetime, cfg: CommunityConfig, address: str, lat: Any = None, lon: Any = None,
          accuracy: Any = None, phone: Any = None) -> Alert | None:
    """A finder tapped "notify the community": the alert (or a comment on the open one), audited.
    None when rate-limited or when the resident's home has no box to file the alert under."""
    r = badge.resident
    where = {"latitude": _number(lat, -90, 90), "longitude": _number(lon, -180, 180),
             "accuracy_m": _number(accuracy, 0, 100_000), "finder_phone": _phone(phone)}
    evidence = {k: v for k, v in where.items() if v not in (None, "")}
    with transaction.atomic():
        if _limited(badge, address, now):
            record(now, f"finder:{address}", "badge_scan_limited", f"badge:{badge.pk}")
            return None
        record(now, f"finder:{address}", "badge_found", f"badge:{badge.pk}", resident=r.pk,
               located="latitude" in evidence, phone=bool(evidence.get("finder_phone")))
        open_alert = Alert.objects.filter(resident=r, kind=FOUND, resolved_at__isnull=True).first()
        if open_alert is not None:
            Comment.objects.create(alert=open_alert, author=None, at=now, text=_finder_words(evidence))
            changed(open_alert)
            return open_alert
        gw = Gateway.objects.filter(home=r.home).order_by("pk").first()
        if gw is None:
            log.error("a finder scanned a badge of a resident whose home has no box: no alert to file")
            return None
        # a finder's alert pages even for a snoozed home: the snooze is about the box, she is not
        return raise_on_server(FOUND, gw, r.home.community, now, cfg, resident=r,
                               alert_id=f"srv-found-{badge.pk}-{int(now.timestamp() * 1000)}",
                               evidence={**evidence, "badge": badge.pk})


def _finder_words(ev: dict[str, Any]) -> str:
    parts = ["路人再次扫码"]
    if "latitude" in ev:
        parts.append(f"位置 {ev['latitude']:.5f},{ev['longitude']:.5f}")
    if ev.get("finder_phone"):
        parts.append(f"回电 {ev['finder_phone']}")
    return "，".join(parts)


# -- what the alert page shows --------------------------------------------------------------------


def last_left(r: Resident) -> datetime | None:
    """When the box last saw the resident go out (or the front door open)."""
    e = (Event.objects.filter(gateway__home=r.home, resident_key=r.resident_id, name__in=(E.WENT_OUT, E.DOOR_OPENED))
         .order_by("-t").first())
    return e.t if e else None


def recent_positions(r: Resident, limit: int = 10) -> list[Position]:
    return list(Position.objects.filter(resident=r).order_by("-t")[:limit])


# -- positions from a tracking server -------------------------------------------------------------


def traccar_position(body: Any, now: datetime, allowed: Any) -> tuple[int, str]:
    """One forwarded position (Traccar's `forward.json`: {"position": {...}, "device": {...}}).
    ``allowed(resident)`` says whether the caller may write for that resident. Returns an HTTP
    status and a word: 200 stored, 202 an unknown device (ignored), 400 malformed, 403 not yours."""
    if not isinstance(body, dict) or not isinstance(body.get("position"), dict):
        return 400, "no position"
    pos = body["position"]
    device: dict[str, Any] = body["device"] if isinstance(body.get("device"), dict) else {}
    unique = str(device.get("uniqueId", ""))[:64]
    locator = Locator.objects.filter(unique_id=unique).select_related("resident__home__community").first()
    if locator is None:
        return 202, "unknown device"
    if not allowed(locator.resident):
        return 403, "not yours"
    lat, lon = _number(pos.get("latitude"), -90, 90), _number(pos.get("longitude"), -180, 180)
    if lat is None or lon is None:
        return 400, "no coordinates"
    t = _when(pos.get("fixTime") or pos.get("deviceTime")) or now
    if t > now + timedelta(minutes=5):
        t = now  # a tracker's clock ahead: not a fix from the future
    Position.objects.create(resident=locator.resident, t=t, latitude=lat, longitude=lon,
                            accuracy_m=_number(pos.get("accuracy"), 0, 100_000), source="traccar", received_at=now)
    prune(now, locator.resident)
    return 200, "stored"


def _when(v: Any) -> datetime | None:
    if not isinstance(v, str) or len(v) > 40:
        return None
    try:
        d = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return None
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def prune(now: datetime, resident: Resident | None = None) -> int:
    """Positions older than an hour go, unless a lost-resident alert is open: then those from an
    hour before it stay until it is resolved."""
    qs = Position.objects.all() if resident is None else Position.objects.filter(resident=resident)
    searching = {a.resident_id: a.raised_at for a in Alert.objects.filter(kind__in=LOST_KINDS, resolved_at__isnull=True,
                                                                        resident__isnull=False)}
    removed = 0
    for rid in set(qs.values_list("resident_id", flat=True)):
        keep_from = now - POSITIONS_KEPT
        if rid in searching:
            keep_from = min(keep_from, searching[rid] - POSITIONS_KEPT)
        removed += Position.objects.filter(resident_id=rid, t__lt=keep_from).delete()[0]
    return removed


# -- outdoor temperature --------------------------------------------------------------------------


def send_outdoor_temperatures(now: datetime, cfg: CommunityConfig, publisher: Publisher) -> int:
    """Tell each home of a community its outdoor temperature when it changed, and hourly (a box
    restarts and forgets); a reading older than 6 hours is sent as unknown."""
    sent = 0
    due = Community.objects.filter(outdoor_temperature_at__isnull=False).filter(
        Q(outdoor_sent_at__isnull=True) | Q(outdoor_sent_at__lt=now - OUTDOOR_RESEND)
        | Q(outdoor_sent_at__lt=F("outdoor_temperature_at")))
    for c in due:
        fresh = c.outdoor_temperature_at is not None and now - c.outdoor_temperature_at < timedelta(hours=6)
        cmd = CommandMessage(command="outdoor_temperature", temperature_c=c.outdoor_temperature_c if fresh else None)
        for gw in Gateway.objects.filter(home__community=c):
            publisher.publish(topic(cfg.broker.prefix, gw.site, gw.gateway, "cmd"), cmd.model_dump_json(), qos=1)
            sent += 1
        Community.objects.filter(pk=c.pk).update(outdoor_sent_at=now)
    return sent
