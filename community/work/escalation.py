"""Server-side escalation: a ladder per severity and time of day, one job per step.

A job is claimed in a transaction that locks it (FOR UPDATE SKIP LOCKED on PostgreSQL, so two
escalation workers never take the same step; SQLite has one writer) and, in that same
transaction, re-reads the alert: acknowledged or resolved means the step and every later one are
stopped. Receipt does not stop anything: a gateway's message arriving is not a person knowing.
The push goes out after the claim commits; a failed push puts the step back a minute later, and
a claim left by a worker that died while sending is taken again after five minutes.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Q
from django.urls import reverse

from eldergate.community.config import CommunityConfig, Step
from eldergate.community.models import Alert, AlertState, Contact, DutyShift, EscalationJob, Profile, Resident
from eldergate.community.models.audit import record
from eldergate.community.work.notify import Notifier, Push
from eldergate.contract.alert_kinds import SEVERITY_ZH, AlertKind, facets
from eldergate.contract.messages import AlertMessage

log = logging.getLogger(__name__)
# a ladder's target -> the role of the box's contacts who are the same people (docs/alert-lifecycle.md,
# "Who is paged"): a step the home's gateway has paged already is not paged again
BOX_ROLE_OF_TARGET = {"assigned": "grid_worker", "relatives": "relative", "duty": "duty_desk"}
PAGED_BY_GATEWAY = "paged by the home's gateway"
# a copy of an alert sent before its box's handover time, which has passed: the box has probably paged
# its first wave since, and a fresh copy saying whom comes within a minute (it resends at once when it
# sees the server back): until then the steps the box could have taken wait
BOX_COPY_HOLD = timedelta(seconds=60)
SENDING = "sending"
STALE_CLAIM = timedelta(minutes=5)
RETRY = timedelta(minutes=1)


def ladder_for(alert: Alert, cfg: CommunityConfig, at: datetime) -> list[Step]:
    key = "offline" if alert.kind == AlertKind.HOME_OFFLINE else alert.severity
    esc = cfg.escalation
    start, end = esc.night_span()
    local = at.astimezone(ZoneInfo(cfg.server.time_zone)).time()
    night = (start <= local or local < end) if start > end else (start <= local < end)
    if night and key in esc.night_ladders:
        return esc.night_ladders[key]
    return esc.ladders.get(key, [])


def schedule(alert: Alert, cfg: CommunityConfig, new: bool = False, hold_until: datetime | None = None) -> int:
    """Create the alert's steps (none for a test, installation-mode or snoozed alert)."""
    jobs = steps_for(alert, cfg, hold_until)
    if new:  # a new alert has no steps yet: one insert
        EscalationJob.objects.bulk_create(jobs)
        return len(jobs)
    for job in jobs:
        EscalationJob.objects.get_or_create(alert=alert, step=job.step, defaults={
            "target": job.target, "due_at": job.due_at, "done_at": job.done_at, "result": job.result})
    return len(jobs)


def steps_for(alert: Alert, cfg: CommunityConfig, hold_until: datetime | None = None) -> list[EscalationJob]:
    """The alert's ladder as unsaved steps (none for a test, installation-mode or snoozed alert):
    those its gateway paged are done; with ``hold_until`` (``hold_for``), those it may have paged
    wait until then."""
    if alert.test:
        return []
    jobs = [EscalationJob(alert=alert, step=i, target=s.to, due_at=alert.received_at + timedelta(seconds=s.after_s))
            for i, s in enumerate(ladder_for(alert, cfg, alert.received_at))]
    for job in jobs:
        if _paged_by_gateway(job.target, alert.paged_by_gateway):
            job.done_at, job.result = alert.received_at, PAGED_BY_GATEWAY
        elif hold_until is not None and job.target in BOX_ROLE_OF_TARGET:
            job.due_at = max(job.due_at, hold_until)
    return jobs


def hold_for(msg: AlertMessage, now: datetime) -> datetime | None:
    """Until when a new alert's steps for people its box pages wait for a fresher copy: this copy
    was sent before the box's handover time (raised_at + handover_s, in the box's clock), and that
    time has passed, so the box may have paged since (docs/alert-lifecycle.md, "Who is paged")."""
    if msg.handover_s is None:
        return None
    decided_at = msg.raised_at + msg.handover_s
    return now + BOX_COPY_HOLD if msg.sent_at < decided_at <= now.timestamp() else None


def _paged_by_gateway(target: str, roles: list[str]) -> bool:
    return BOX_ROLE_OF_TARGET.get(target) in roles


def gateway_paged(alert: Alert, roles: list[str], now: datetime) -> bool:
    """The alert's gateway says it paged these roles (it could not reach the server then, or they
    are its first ring): the steps for them not yet taken are done, and the history says so.
    Returns whether anything was new. The caller holds the alert's row (select_for_update)."""
    new = sorted(set(roles) - set(alert.paged_by_gateway))
    if not new:
        return False
    alert.paged_by_gateway = sorted(set(alert.paged_by_gateway) | set(new))
    Alert.objects.filter(pk=alert.pk).update(paged_by_gateway=alert.paged_by_gateway)
    targets = [t for t in BOX_ROLE_OF_TARGET if _paged_by_gateway(t, alert.paged_by_gateway)]
    EscalationJob.objects.filter(alert=alert, done_at__isnull=True, target__in=targets).update(
        done_at=now, result=PAGED_BY_GATEWAY)
    AlertState.objects.bulk_create(paged_states(alert, new, now), ignore_conflicts=True)
    record(now, "gateway", "gateway_paged", alert, roles=new)
    return True


def paged_states(alert: Alert, roles: list[str], at: datetime) -> list[AlertState]:
    """The alert's history says whom its gateway paged, one row per role ("box paged relative")."""
    return [AlertState(alert=alert, state=f"box paged {role}", at=at, by="gateway", source="gateway")
            for role in roles]


def recipients(target: str, alert: Alert, now: datetime, tz: str) -> tuple[list[str], list[str]]:
    """(Apprise URLs, who) for a step's target."""
    target = target.removesuffix(" reminder")
    profiles: list[Profile] = []
    urls: list[str] = []
    who: list[str] = []
    if alert.community_id is None:  # an unknown gateway: the platform operator adopts and answers it
        profiles = list(Profile.objects.filter(role="platform-operator"))
    elif target == "assigned":
        users = [u for u in (alert.assignee, alert.resident.grid_worker if alert.resident else None) if u]
        if alert.resident is None and alert.gateway.home_id is not None:  # a home-wide alert (offline)
            users += [r.grid_worker for r in Resident.objects.filter(home_id=alert.gateway.home_id)
                      .select_related("grid_worker") if r.grid_worker]
        profiles = list(Profile.objects.filter(user__in=users))
    elif target == "duty":
        local = now.astimezone(ZoneInfo(tz)).time()
        shifts = [s for s in DutyShift.objects.filter(community_id=alert.community_id).select_related("user")
                  if s.covers(local)]
        profiles = list(Profile.objects.filter(user__in=[s.user for s in shifts]))
    elif target == "community-admin":
        profiles = list(Profile.objects.filter(role="community-admin", community_id=alert.community_id))
    elif target == "relatives" and alert.resident is not None:
        for c in Contact.objects.filter(resident=alert.resident, consent_to_call=True).exclude(notify_url=""):
            urls.append(c.notify_url)
            who.append(f"contact {c.pk}")
        profiles = list(Profile.objects.filter(role="relative", resident=alert.resident))
    for p in profiles:
        if p.notify_url:
            urls.append(p.notify_url)
            who.append(p.user.get_username())
    return urls, who


def push_for(alert: Alert, public_url: str, reminder: bool) -> Push:
    """Urgency in words, first and in Chinese (a "— critical" at the end was missed at 3 a.m.)."""
    place = ""
    if alert.resident is not None:
        home = alert.resident.home
        place = f"{alert.resident.name}，{home}"
    elif alert.community_id is None:
        place = f"未登记的网关 {alert.gateway}"
    elif alert.gateway.home_id is not None:
        place = str(alert.gateway.home)
    kind = facets(alert.kind)
    urgency = SEVERITY_ZH.get(alert.severity, alert.severity)
    age = "" if not reminder else "【提醒】"
    title = (f"{age}【{urgency}】{alert.title_zh or (kind.zh if kind else alert.kind)} "
             f"({alert.title_en or (kind.en if kind else alert.kind)})")
    first = f" · {kind.steps_zh[0]}" if kind and kind.steps_zh else ""
    return Push(title=title, body=f"{place} · {urgency}{first}", link=public_url + reverse("alert", args=[alert.ref]))


def tick(now: datetime, cfg: CommunityConfig, notifier: Notifier, limit: int = 50) -> int:
    """Run the steps due at ``now``; returns how many pushes went out."""
    return _tick(now, cfg, notifier, limit)[0]


def drain(now: datetime, cfg: CommunityConfig, notifier: Notifier, batch: int = 10) -> int:
    """Tick in small batches until no due step is left to claim (another worker may hold some)."""
    total = 0
    while True:
        sent, handled = _tick(now, cfg, notifier, batch)
        total += sent
        if handled == 0:
            return total


def _tick(now: datetime, cfg: CommunityConfig, notifier: Notifier, limit: int) -> tuple[int, int]:
    with transaction.atomic():
        EscalationJob.objects.filter(result=SENDING, done_at__lt=now - STALE_CLAIM).update(done_at=None, result="")
        jobs = list(EscalationJob.objects.select_for_update(skip_locked=True)
                    .filter(done_at__isnull=True, due_at__lte=now).order_by("due_at", "step")[:limit])
        claimed: list[tuple[int, list[str], list[str], Push]] = []
        for job in jobs:
            # locked like a person's step locks it: an acknowledgement is either before this read or after the claim
            alert = (Alert.objects.select_for_update(of=("self",))
                     .select_related("resident__home", "gateway", "assignee").get(pk=job.alert_id))
            if alert.acknowledged_at is not None or alert.resolved_at is not None:
                by = alert.acknowledged_by
                why = f"stopped: acknowledged by {by}" if alert.acknowledged_at else "stopped: resolved"
                EscalationJob.objects.filter(alert=alert, done_at__isnull=True).update(done_at=now, result=why)
                continue
            urls, who = recipients(job.target, alert, now, cfg.server.time_zone)
            if not urls:
                job.done_at, job.result = now, f"nobody to tell ({job.target})"
                job.save(update_fields=["done_at", "result"])
                record(now, "server", "escalation_skipped", alert, step=job.step, target=job.target)
                continue
            job.done_at, job.result = now, SENDING
            job.save(update_fields=["done_at", "result"])
            claimed.append((job.pk, urls, who, push_for(alert, cfg.public_url(), reminder="reminder" in job.target)))
            _plan_reminder(job, alert, now, cfg)
    sent = 0
    for pk, urls, who, push in claimed:
        ok = notifier.send(urls, push)
        with transaction.atomic():
            job = EscalationJob.objects.select_related("alert").get(pk=pk)
            if ok:
                sent += 1
                job.result = f"sent to {', '.join(who)}"
                record(now, "server", "escalated", job.alert, step=job.step, target=job.target, to=who)
            else:
                job.done_at, job.due_at, job.result = None, now + RETRY, "push failed; trying again"
                log.warning("escalation push for alert %s failed; retrying in a minute", job.alert.alert_id)
            job.save(update_fields=["done_at", "due_at", "result"])
    return sent, len(jobs)


def _plan_reminder(job: EscalationJob, alert: Alert, now: datetime, cfg: CommunityConfig) -> None:
    """After the last step, keep reminding its target until someone acknowledges."""
    every = cfg.escalation.remind_every_s
    last = EscalationJob.objects.filter(alert=alert).exclude(pk=job.pk).filter(
        Q(step__gt=job.step)).exists()
    if every <= 0 or last:
        return
    target = job.target if job.target.endswith("reminder") else f"{job.target} reminder"
    EscalationJob.objects.get_or_create(alert=alert, step=job.step + 1,
                                        defaults={"target": target, "due_at": now + timedelta(seconds=every)})


def next_due(now: datetime) -> datetime | None:
    job = EscalationJob.objects.filter(done_at__isnull=True).order_by("due_at").first()
    return job.due_at if job else None

