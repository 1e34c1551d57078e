"""Software rollouts to the boxes (docs/deploy-city.md, "Software updates"): a signed release
(contract/releases.py) offered to a canary group first, then in waves, halted by itself when a box
of the stage is not healthy. The boxes do the installing and the rolling back (gateway/delivery/
updates.py, gateway/tools/launch.py); this decides who is asked when, and reads their answers
from their statuses (``update_version``, ``update_state``, ``version``, ``started_at``).

- ``start``: every box adopted into a home (of the communities given) is a target, in an order
  shuffled by the rollout (a stable hash), the boxes online now first: the first
  ``canary_percent`` (at least one box) are stage 0, the rest are split into ``waves`` stages.
- ``tick``, for each running rollout's current stage:
  1. a box of a home with an open alert waits (an update never runs while an alert is open
     there; the box refuses it too); the others are sent the update command, and again after
     ``RESEND`` while they have not answered (a box that was off gets it when it is back);
  2. answers: the box runs the release and says *confirmed*; it says *rolled_back*, *failed*
     or refused it for any reason but an open alert: failed;
  3. the stage: a canary that fails, or was asked and has not confirmed within ``check_s`` of the
     stage's start, halts the rollout, the later stages untouched; in a wave, more than
     ``WAVE_FAILURES`` of its boxes failing halts it. Once every box of the stage asked has
     confirmed (a wave's silent boxes: after ``check_s``; a box waiting for an alert to be
     resolved does not hold the stage), the stage is watched ``check_s`` more: a canary that goes
     offline or restarts then (a watchdog reset) halts the rollout. Then the next stage; after
     the last, the rollout is done once every box has confirmed or failed (a box that was off
     is asked again when it is back; the operator may halt what is left).
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse

from eldergate.community.models import Alert, Gateway
from eldergate.community.models.audit import record
from eldergate.community.models.releases import Release, Rollout, RolloutTarget
from eldergate.community.work.publisher import Publisher
from eldergate.contract.messages import CommandMessage, topic

RESEND = timedelta(seconds=60)
# boxes asked per tick (the timers tick rollouts every 2 s): a wave is spread over seconds, so that its
# thousands of answers do not arrive at once beside a fresh fall (bench/rollout_load.py)
SEND_PER_TICK = 200
WAVE_FAILURES = 0.10  # of a wave's boxes, at least one: a wave halts past this
OPEN_ALERT = "an alert is open in this home"


def start(release: Release, canary_percent: float, waves: int, check_s: float, by: Any, now: datetime,
          communities: list[str] | None = None) -> Rollout:
    if Rollout.objects.filter(state="running").exists():
        raise ValueError("a rollout is running already: let it finish, or halt it first")
    gateways = Gateway.objects.filter(home__isnull=False)
    if communities:
        gateways = gateways.filter(home__community__code__in=communities)
    boxes = list(gateways.order_by("pk"))
    if not boxes:
        raise ValueError("no box is adopted into a home" + (f" in {', '.join(communities)}" if communities else ""))
    with transaction.atomic():
        r = Rollout.objects.create(release=release, canary_percent=canary_percent, waves=waves, check_s=check_s,
                                   created_by=by if hasattr(by, "get_username") else None, created_at=now,
                                   stage_started_at=now)
        # shuffled per rollout; the canaries are boxes that are online now (one that is off could
        # prove nothing, and would halt the rollout for it)
        boxes.sort(key=lambda g: (not (g.status == "online" and not g.offline),
                                  hashlib.sha256(f"{r.pk}/{g.site}/{g.gateway}".encode()).digest()))
        canary = max(1, math.ceil(len(boxes) * canary_percent / 100))
        rest = boxes[canary:]
        per_wave = math.ceil(len(rest) / waves) if rest else 0
        stages = [0] * canary + [1 + i // per_wave for i in range(len(rest))] if per_wave else [0] * canary
        RolloutTarget.objects.bulk_create([RolloutTarget(rollout=r, gateway=g, stage=s)
                                           for g, s in zip(boxes, stages, strict=True)])
        r.stages = max(stages) + 1
        r.save(update_fields=["stages"])
        record(now, by, "rollout_started", r, release=release.version, boxes=len(boxes), canary=canary,
               stages=r.stages)
    return r


def halt(r: Rollout, why: str, now: datetime, by: Any = "server") -> None:
    Rollout.objects.filter(pk=r.pk).update(state="halted", reason=why[:300], finished_at=now)
    r.state, r.reason = "halted", why[:300]
    record(now, by, "rollout_halted", r, release=r.release.version, stage=r.stage, reason=why[:300])


def tick(now: datetime, publisher: Publisher, prefix: str, public_url: str) -> int:
    """Advance every running rollout; returns how many update commands were sent. Each step is
    one transaction with its rows written in bulk: a wave is thousands of boxes, and on SQLite
    one commit per box held the one writer long enough to delay fresh falls by seconds
    (bench/rollout_load.py at 10,000 boxes: a fresh fall's p99 22.6 s during a wave)."""
    sent = 0
    for r in Rollout.objects.filter(state="running").select_related("release"):
        with transaction.atomic():
            sent += _send(r, now, publisher, prefix, public_url)
        with transaction.atomic():
            _answers(r, now)
        with transaction.atomic():
            _judge(r, now)
    return sent


def _stage(r: Rollout) -> Any:
    return RolloutTarget.objects.filter(rollout=r, stage=r.stage).select_related("gateway")


def _reached(r: Rollout) -> Any:
    """The boxes of this stage and the earlier ones: a box that was off in its wave is asked again."""
    return RolloutTarget.objects.filter(rollout=r, stage__lte=r.stage).select_related("gateway")


def _send(r: Rollout, now: datetime, publisher: Publisher, prefix: str, public_url: str) -> int:
    url = public_url + reverse("release-bundle", args=[r.release.version])
    # boxes never asked first, then those held by an alert or silent since (the oldest first): a
    # hundred homes with an alert open, or a hundred boxes that are off, never take the whole tick
    due = list(_reached(r).filter(Q(state="waiting") | Q(state="sent", sent_at__lt=now - RESEND))
               .order_by("stage", "result", F("sent_at").asc(nulls_first=True), "pk")[:SEND_PER_TICK])
    busy = _homes_with_open_alerts([t.gateway.home_id for t in due])
    body = CommandMessage(command="update", release=r.release.version, bundle_url=url).model_dump_json()
    held, sent = [], []
    for t in due:
        if t.gateway.home_id in busy:
            if t.result != OPEN_ALERT:
                held.append(t.pk)
            continue
        g = t.gateway
        if not publisher.publish(topic(prefix, g.site, g.gateway, "cmd"), body, qos=1):
            break
        sent.append(t.pk)
    for chunk in _chunks(held):
        RolloutTarget.objects.filter(pk__in=chunk).update(state="waiting", result=OPEN_ALERT)
    for chunk in _chunks(sent):
        RolloutTarget.objects.filter(pk__in=chunk).update(state="sent", sent_at=now, result="")
    return len(sent)


def _chunks(pks: list[int], size: int = 500) -> list[list[int]]:
    return [pks[i:i + size] for i in range(0, len(pks), size)]


def _homes_with_open_alerts(homes: list[int | None]) -> set[int]:
    wanted = {h for h in homes if h is not None}
    if not wanted:
        return set()
    rows = Alert.objects.filter(gateway__home_id__in=wanted, resolved_at__isnull=True, test=False)
    return set(rows.values_list("gateway__home_id", flat=True))


def _answers(r: Rollout, now: datetime) -> None:
    v = r.release.version
    changed: list[RolloutTarget] = []
    for t in _reached(r).filter(state__in=("sent", "waiting"), gateway__update_version=v):
        g = t.gateway
        if g.version == v and g.update_state == "confirmed":
            t.state, t.confirmed_at, t.result, t.started_at = "confirmed", now, "", g.started_at
        elif g.update_state in ("rolled_back", "failed"):
            t.state, t.result = "failed", f"{g.update_state}: {g.update_reason}"[:300]
        elif g.update_state == "refused" and g.update_reason != OPEN_ALERT:
            t.state, t.result = "failed", f"refused: {g.update_reason}"[:300]
        elif g.update_state == "refused" and t.state != "waiting":
            t.state, t.result = "waiting", OPEN_ALERT
        else:
            continue
        changed.append(t)
    RolloutTarget.objects.bulk_update(changed, ["state", "confirmed_at", "result", "started_at"], batch_size=500)


def _judge(r: Rollout, now: datetime) -> None:
    targets = list(_stage(r))
    failed = [t for t in targets if t.state == "failed"]
    canary = r.stage == 0
    if failed and (canary or len(failed) > max(1, WAVE_FAILURES * len(targets))):
        first = failed[0]
        halt(r, f"{'canary' if canary else f'wave {r.stage}'} {first.gateway.site}/{first.gateway.gateway} "
                f"{first.result}", now)
        return
    late = now - r.stage_started_at > timedelta(seconds=r.check_s)
    asked = [t for t in targets if t.state == "sent"]  # asked and not answered ("waiting": an open alert)
    confirmed = [t for t in targets if t.state == "confirmed"]
    if canary and late and asked and r.stage_confirmed_at is None:
        t = asked[0]
        halt(r, f"canary {t.gateway.site}/{t.gateway.gateway} did not prove healthy within {r.check_s:.0f} s", now)
        return
    if r.stage_confirmed_at is None:
        if (confirmed and not asked) or (not canary and late):
            Rollout.objects.filter(pk=r.pk).update(stage_confirmed_at=now)
        return
    if canary:  # watched: still up, not restarted since it confirmed (a watchdog reset)
        for t in confirmed:
            g = t.gateway
            if g.status != "online" or (t.started_at is not None and g.started_at != t.started_at):
                why = "went offline" if g.status != "online" else "restarted"
                halt(r, f"canary {g.site}/{g.gateway} {why} after it confirmed {r.release.version}", now)
                return
    if now - r.stage_confirmed_at < timedelta(seconds=r.check_s):
        return
    if r.stage + 1 >= r.stages:
        if _reached(r).exclude(state__in=("confirmed", "failed")).exists():
            return  # the last stage is through; boxes that were off or busy are still asked when they can be
        Rollout.objects.filter(pk=r.pk).update(state="done", finished_at=now)
        record(now, "server", "rollout_done", r, release=r.release.version)
        return
    Rollout.objects.filter(pk=r.pk).update(stage=r.stage + 1, stage_started_at=now, stage_confirmed_at=None)
    record(now, "server", "rollout_stage", r, release=r.release.version, stage=r.stage + 1)


def progress(r: Rollout) -> dict[str, Any]:
    """Counts per stage and state, for the fleet page and the CLI."""
    out: dict[int, dict[str, int]] = {}
    for stage, state in RolloutTarget.objects.filter(rollout=r).values_list("stage", "state"):
        out.setdefault(stage, {}).setdefault(state, 0)
        out[stage][state] += 1
    return {"release": r.release.version, "state": r.state, "stage": r.stage, "stages": r.stages,
            "reason": r.reason, "per_stage": {str(k): v for k, v in sorted(out.items())}}
