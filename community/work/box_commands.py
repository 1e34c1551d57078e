"""Commands to a box from afar (a test alert end to end, a fresh status, a restart, its diagnostic
report), each audited, sent by the timers on the box's ``cmd`` leaf, and answered by what the box
then does: its test alert stored, a status newer than the command, a status from a process started
after it, its ``diagnostics`` event (the commissioning checks that run unattended: every sensor
alive, the configuration's findings, uplink, clock, storage). No answer within ANSWER_WITHIN is a
result too ("no answer"). A diagnostics command may also ask for the box's last minutes of capture,
which it posts to the one-time address the command carries (work/diagnostic_captures.py)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q

from eldergate.community.models import BoxCommand, Event, Gateway
from eldergate.community.models.audit import record
from eldergate.community.work import diagnostic_captures
from eldergate.community.work.publisher import Publisher
from eldergate.contract.events import EventName as E
from eldergate.contract.messages import CommandMessage, topic

ANSWER_WITHIN = timedelta(minutes=10)
CLOCK_LEEWAY = timedelta(minutes=1)
RESEND = timedelta(seconds=30)


def ask(gateway: Gateway, command: str, by: Any, now: datetime, capture: str = "") -> BoxCommand:
    """``capture`` (diagnostics): "no_waveforms" or "raw_waveforms"; the caller has checked the
    consent the second needs (diagnostic_captures.raw_waveforms_refused)."""
    cmd = BoxCommand.objects.create(gateway=gateway, command=command, by=by, created_at=now, capture=capture)
    record(now, by, "box_command", gateway, command=command, id=cmd.pk, **({"capture": capture} if capture else {}))
    return cmd


def message(cmd: BoxCommand, public_url: str) -> CommandMessage:
    if cmd.command == "diagnostics" and cmd.capture:
        return CommandMessage(command="diagnostics", upload_url=diagnostic_captures.upload_url(cmd, public_url),
                              raw_waveforms=cmd.capture == "raw_waveforms")
    return CommandMessage(command=cmd.command)


def send_due(publisher: Publisher, prefix: str, now: datetime, public_url: str) -> int:
    """Send what is new, in the order it was asked, and again what has had no answer for RESEND
    (a box restarting drops the commands it had not yet taken; every command is answered by its
    effect, so a second copy of an answered one is never sent)."""
    sent = 0
    due = (Q(sent_at__isnull=True) | Q(sent_at__lt=now - RESEND))
    for cmd in BoxCommand.objects.filter(due, done_at__isnull=True).select_related("gateway").order_by("pk")[:500]:
        g = cmd.gateway
        if not publisher.publish(topic(prefix, g.site, g.gateway, "cmd"), message(cmd, public_url).model_dump_json(),
                                 qos=1):
            break
        BoxCommand.objects.filter(pk=cmd.pk).update(sent_at=now)
        sent += 1
    return sent


def settle(now: datetime) -> int:
    """Record the answer of every command the box has answered since it was sent."""
    done = 0
    for cmd in BoxCommand.objects.filter(sent_at__isnull=False, done_at__isnull=True).select_related("gateway"):
        report = _diagnostics(cmd) if cmd.command == "diagnostics" else None
        ok, result = (report_result(report) if report is not None else answer(cmd, cmd.gateway, now))
        if ok is None:
            continue
        BoxCommand.objects.filter(pk=cmd.pk).update(done_at=now, ok=ok, result=result[:300], report=report or {})
        done += 1
    return done


def _diagnostics(cmd: BoxCommand) -> dict[str, Any] | None:
    """The box's report sent after the command (its event's time is the box's: a minute's leeway)."""
    assert cmd.sent_at is not None
    ev = (Event.objects.filter(gateway=cmd.gateway, name=E.DIAGNOSTICS, t__gte=cmd.sent_at - CLOCK_LEEWAY)
          .order_by("-t").first())
    return dict(ev.details) if ev is not None else None


def report_result(report: dict[str, Any]) -> tuple[bool, str]:
    """A diagnostic report in one line: the checks, and what failed."""
    ok = report.get("checks_ok") is True
    bad = [f"{k.split(':', 1)[1]} {str(v).split(',')[0]}" for k, v in report.items()
           if k.startswith("sensor:") and not str(v).startswith("ok")]
    parts = [f"checks {'passed' if ok else 'failed'}", f"software {report.get('version', '?')}",
             f"uplink {'up' if report.get('uplink') else 'down'}"]
    if bad:
        parts.append("sensors: " + ", ".join(bad))
    if report.get("findings"):
        parts.append(f"configuration: {report['findings']}")
    if report.get("stuck"):
        parts.append(str(report["stuck"]))
    if report.get("capture"):
        parts.append(f"capture: {report['capture']}")
    return ok, "; ".join(parts)


def answer(cmd: BoxCommand, g: Gateway, now: datetime) -> tuple[bool | None, str]:
    assert cmd.sent_at is not None
    if cmd.command == "test_alert" and g.last_test_ok and g.last_test_ok >= cmd.sent_at:
        return True, f"test alert stored at {g.last_test_ok.isoformat(timespec='seconds')}"
    if cmd.command == "status" and g.status_at and g.status_at >= cmd.sent_at:
        return True, f"{g.status}, software {g.version or '?'}, configuration {g.config_applied_version}"
    if cmd.command == "restart" and g.started_at and g.started_at >= cmd.created_at and g.status == "online":
        return True, f"restarted at {g.started_at.isoformat(timespec='seconds')}, software {g.version or '?'}"
    if now - cmd.created_at > ANSWER_WITHIN:
        return False, "no answer"
    return None, ""
