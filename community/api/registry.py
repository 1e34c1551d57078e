"""/api/v1/homes, /residents, /gateways: the registry, scoped; medical notes only by the roles that
need them, and every read written to the audit trail in the same transaction."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, TypeVar

from django.db import models, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from ninja import Router, Status
from ninja.errors import HttpError
from pydantic import ValidationError

from eldergate.community.api.common import user
from eldergate.community.api.schemas import (
    AdoptIn,
    CommandIn,
    CommandOut,
    ConsentIn,
    ConsentOut,
    GatewayOut,
    HomeOut,
    MedicalOut,
    Problem,
    ResidentOut,
    ResidentPatch,
    SnoozeIn,
    VisitIn,
)
from eldergate.community.clock import now
from eldergate.community.config import active
from eldergate.community.models import (
    Alert,
    BoxCommand,
    Consent,
    DiagnosticCapture,
    Gateway,
    Home,
    Resident,
    Snooze,
    Visit,
)
from eldergate.community.models.audit import record
from eldergate.community.models.crypto import decrypt
from eldergate.community.work import box_commands, consent, desired_config, diagnostic_captures, escalation, scoping
from eldergate.contract.alert_kinds import AlertKind
from eldergate.contract.desired_config import ThresholdChanges

router = Router(tags=["registry"])
T = TypeVar("T", bound=models.Model)


def _found(rows: QuerySet[T], pk: int, missing: str) -> T:
    """The row of that id among those the person may see, or a 404 that says the same whether it
    does not exist or is not theirs (another community's box is not there for them)."""
    row = rows.filter(pk=pk).first()
    if row is None:
        raise HttpError(404, missing)
    return row


def _gateway_out(g: Gateway, offline: bool | None = None) -> dict[str, Any]:
    """``offline``: already looked up (a list looks once for all its gateways)."""
    if offline is None:
        offline = Alert.objects.filter(gateway=g, kind=AlertKind.HOME_OFFLINE, resolved_at__isnull=True).exists()
    return {"id": g.pk, "site": g.site, "gateway": g.gateway, "home": g.home_id, "status": g.status,
            "online": g.status == "online" and not offline, "last_seen": g.last_seen, "version": g.version,
            "software_version": g.version, "unsent_alerts": g.unsent_alerts, "sensors": g.sensors,
            "last_test_ok": g.last_test_ok, "config_desired_version": g.home.config_version if g.home else 0,
            "config_applied_version": g.config_applied_version, "config_refused_version": g.config_refused_version,
            "config_refused": g.config_refused, "update_version": g.update_version, "update_state": g.update_state,
            "update_reason": g.update_reason}


def _home_out(h: Home) -> dict[str, Any]:
    snooze = Snooze.active_for(h, now())
    return {"id": h.pk, "community": h.community.code, "address": h.address, "building": h.building,
            "unit": h.unit, "house_number": h.house_number, "mode": h.mode, "keyholder": bool(h.keyholder),
            "snoozed_until": snooze.until if snooze else None,
            "gateways": [_gateway_out(g) for g in h.gateways.all()],
            "residents": [r.pk for r in h.residents.all()],
            "open_alerts": Alert.objects.filter(gateway__home=h).exclude(state="resolved").count()}


def _resident_out(r: Resident, u: Any) -> dict[str, Any]:
    """Contacts only for the roles that call them (not installers); never medical notes."""
    contacts = r.contacts.all() if scoping.may_see_contacts(u) else []
    return {"id": r.pk, "resident_id": r.resident_id, "key": r.key(), "name": r.name, "birth_year": r.birth_year,
            "home": r.home_id, "grid_worker": r.grid_worker.get_username() if r.grid_worker else None,
            "volunteer": r.volunteer.get_username() if r.volunteer else None,
            "contacts": [{"order": c.order, "name": c.name, "phone": c.phone, "role": c.role,
                          "consent_to_call": c.consent_to_call, "is_keyholder": c.is_keyholder}
                         for c in contacts],
            "monitoring_consent": consent.monitoring_consent(r, now()),
            "incomplete": r.incomplete(), "thresholds": r.thresholds or {},
            "config_desired_version": r.home.config_version}


@router.get("/homes", response=list[HomeOut])
def homes(request: HttpRequest) -> list[dict[str, Any]]:
    qs = scoping.homes(user(request)).select_related("community").prefetch_related("gateways", "residents")
    return [_home_out(h) for h in qs.order_by("pk")]


@router.get("/homes/{home_id}", response={200: HomeOut, 404: Problem})
def home(request: HttpRequest, home_id: int) -> dict[str, Any]:
    h = _found(scoping.homes(user(request)), home_id, "no such home")
    return _home_out(h)


@router.post("/homes/{home_id}/snooze", response={200: HomeOut, 400: Problem, 403: Problem, 404: Problem},
             summary="page nobody for this home until a time, with a reason (audited; never a global mute)")
def snooze(request: HttpRequest, home_id: int, body: SnoozeIn) -> dict[str, Any]:
    u = user(request)
    h = _found(scoping.homes(u), home_id, "no such home")
    if not (scoping.may_act(u) or scoping.may_administer(u)):
        raise HttpError(403, "this role cannot snooze a home")
    at = now()
    if not body.reason.strip() or body.until <= at:
        raise HttpError(400, "a snooze needs a reason and an expiry in the future")
    longest = active().escalation.snooze_max_hours
    if body.until > at + timedelta(hours=longest):  # a snoozed home's falls page nobody: never for long unnoticed
        raise HttpError(400, f"a snooze ends within {longest:g} hours (escalation.snooze_max_hours); "
                        "a longer absence is the home's installation mode")
    with transaction.atomic():
        s = Snooze.objects.create(home=h, reason=body.reason, until=body.until, by=u, created=at)
        record(at, u, "snoozed", h, reason=body.reason, until=body.until.isoformat(), snooze=s.pk)
    return _home_out(h)


@router.get("/residents", response=list[ResidentOut])
def residents(request: HttpRequest) -> list[dict[str, Any]]:
    u = user(request)
    qs = scoping.residents(u).select_related("home", "grid_worker", "volunteer")
    return [_resident_out(r, u) for r in qs.prefetch_related("contacts", "home__gateways").order_by("pk")]


@router.get("/residents/{resident_id}", response={200: ResidentOut, 404: Problem})
def resident(request: HttpRequest, resident_id: int) -> dict[str, Any]:
    u = user(request)
    r = _found(scoping.residents(u), resident_id, "no such resident")
    return _resident_out(r, u)


@router.patch("/residents/{resident_id}", response={200: ResidentOut, 400: Problem, 403: Problem, 404: Problem},
              summary="change a resident's thresholds (night_start \"HH:MM\" …) or contacts; the home's box is sent "
                      "them (config_desired_version rises; the box reports config_applied_version)")
def change_resident(request: HttpRequest, resident_id: int, body: ResidentPatch) -> dict[str, Any]:
    u = user(request)
    r = _found(scoping.residents(u).select_related("home"), resident_id, "no such resident")
    if not scoping.may_change_settings(u):
        raise HttpError(403, "contacts and thresholds are changed by community admins and grid workers")
    base = body.thresholds.changes() if body.thresholds is not None else {}
    hours = {k: v for k, v in (("night_start", body.night_start), ("night_end", body.night_end)) if v is not None}
    try:
        thresholds = ThresholdChanges.model_validate({**base, **hours})
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        raise HttpError(400, f"thresholds.{'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None
    contacts = [c.model_dump() for c in body.contacts] if body.contacts is not None else None
    desired_config.change_resident(r, now(), u, thresholds=thresholds, contacts=contacts)
    r.refresh_from_db()
    return _resident_out(r, u)


@router.get("/gateways", response=list[GatewayOut],
            summary="the boxes one may see, with software and configuration versions (desired, applied, refused)")
def gateways(request: HttpRequest) -> list[dict[str, Any]]:
    gateways = list(scoping.gateways(user(request)).select_related("home").order_by("pk"))
    offline = set(Alert.objects.filter(gateway__in=gateways, kind=AlertKind.HOME_OFFLINE, resolved_at__isnull=True)
                  .values_list("gateway_id", flat=True))
    return [_gateway_out(g, g.pk in offline) for g in gateways]


def _command_out(c: BoxCommand) -> dict[str, Any]:
    up = DiagnosticCapture.objects.filter(command=c).only("received_at", "size", "span_s").first() if (
        c.capture) else None
    return {"id": c.pk, "gateway": c.gateway_id, "command": c.command, "by": c.by.get_username() if c.by else None,
            "created_at": c.created_at, "sent_at": c.sent_at, "done_at": c.done_at, "ok": c.ok, "result": c.result,
            "report": c.report, "capture": c.capture, "capture_received_at": up.received_at if up else None,
            "capture_bytes": up.size if up else None, "capture_span_s": up.span_s if up else None}


@router.post("/gateways/{gateway_id}/commands", response={202: CommandOut, 403: Problem, 404: Problem},
             summary="ask a box for a test alert end to end, a fresh status, a restart or its diagnostic report "
                     "(the unattended commissioning checks; audited; the answer is the box's own: GET …/commands)")
def command(request: HttpRequest, gateway_id: int, body: CommandIn) -> Status[dict[str, Any]]:
    u = user(request)
    g = _found(scoping.gateways(u), gateway_id, "no such gateway")
    if not scoping.may_administer(u):
        raise HttpError(403, "commands to a box are for community admins and the platform operator")
    capture = "raw_waveforms" if body.raw_waveforms else "no_waveforms" if body.capture else ""
    if capture and body.command != "diagnostics":
        raise HttpError(422, "a capture comes with the diagnostics command only")
    if capture == "raw_waveforms" and (why := diagnostic_captures.raw_waveforms_refused(g, now())):
        record(now(), u, "raw_waveforms_refused", g)
        raise HttpError(403, why)
    with transaction.atomic():
        return Status(202, _command_out(box_commands.ask(g, body.command, u, now(), capture)))


@router.get("/gateways/{gateway_id}/commands", response={200: list[CommandOut], 404: Problem})
def commands(request: HttpRequest, gateway_id: int) -> list[dict[str, Any]]:
    g = _found(scoping.gateways(user(request)), gateway_id, "no such gateway")
    return [_command_out(c) for c in BoxCommand.objects.filter(gateway=g).select_related("by")[:50]]


@router.get("/gateways/{gateway_id}/commands/{command_id}/capture",
            response={200: None, 403: Problem, 404: Problem}, openapi_extra={"responses": {200: {
                "description": "the capture, gzip'd JSON lines: `eldergate replay FILE --config the box's TOML`",
                "content": {"application/gzip": {"schema": {"type": "string", "format": "binary"}}}}}},
            summary="the last minutes of capture a diagnostics command asked for (community admins and the "
                    "platform operator; every read audited)")
def capture(request: HttpRequest, gateway_id: int, command_id: int) -> HttpResponse:
    u = user(request)
    g = _found(scoping.gateways(u), gateway_id, "no such gateway")
    if not scoping.may_administer(u):
        raise HttpError(403, "a box's capture is for community admins and the platform operator")
    up = DiagnosticCapture.objects.filter(command_id=command_id, command__gateway=g).select_related(
        "command__gateway").first()
    if up is None:
        raise HttpError(404, "no capture has arrived for this command")
    with transaction.atomic():
        body = diagnostic_captures.read(up, u, now())
    if body is None:
        raise HttpError(404, "this capture cannot be opened with this server's data key")
    response = HttpResponse(body, content_type="application/gzip")
    response["Content-Disposition"] = f'attachment; filename="{g.site}-{g.gateway}-{command_id}.capture.jsonl.gz"'
    return response


@router.post("/residents/{resident_id}/consents", response={201: ConsentOut, 403: Problem, 404: Problem},
             summary="record a consent the resident or their guardian gave (PIPL Art. 29; audited)")
def give_consent(request: HttpRequest, resident_id: int, body: ConsentIn) -> Status[dict[str, Any]]:
    u, r = _consent_of(request, resident_id)
    c = consent.give(r, body.scope, body.given_by, u, now())
    return Status(201, _consent_out(c))


@router.delete("/residents/{resident_id}/consents/{scope}", response={200: list[ConsentOut], 403: Problem,
                                                                         404: Problem},
               summary="the resident or their guardian withdrew a consent: it ends now (audited)")
def withdraw_consent(request: HttpRequest, resident_id: int, scope: str) -> list[dict[str, Any]]:
    u, r = _consent_of(request, resident_id)
    if scope not in consent.SCOPES:
        raise HttpError(404, f"no such consent scope: one of {', '.join(consent.SCOPES)}")
    consent.withdraw(r, scope, u, now())
    return [_consent_out(c) for c in r.consents.filter(scope=scope)]


def _consent_of(request: HttpRequest, resident_id: int) -> tuple[Any, Resident]:
    """(who asks, the resident) when they may record the resident's consents."""
    u = user(request)
    r = _found(scoping.residents(u), resident_id, "no such resident")
    if not scoping.may_administer(u):
        raise HttpError(403, "consents are recorded by community admins")
    return u, r


def _consent_out(c: Consent) -> dict[str, Any]:
    return {"resident": c.resident_id, "scope": c.scope, "given_by": c.given_by, "given_at": c.given_at,
            "withdrawn_at": c.withdrawn_at}


@router.get("/residents/{resident_id}/medical", response={200: MedicalOut, 403: Problem, 404: Problem},
            summary="medical history, medications, allergies and key safe (every read is audited)")
def medical(request: HttpRequest, resident_id: int) -> dict[str, Any]:
    u = user(request)
    r = _found(scoping.residents(u).select_related("home"), resident_id, "no such resident")
    if not scoping.may_read_medical(u):
        record(now(), u, "medical_read_refused", r)
        raise HttpError(403, "medical notes are for community admins and grid workers")
    with transaction.atomic():
        record(now(), u, "medical_read", r)
        return {"resident": r.pk, "medical_history": decrypt(r.medical_history), "medications": decrypt(r.medications),
                "allergies": decrypt(r.allergies), "key_safe": decrypt(r.home.key_safe)}


@router.post("/residents/{resident_id}/visits", response={200: ResidentOut, 403: Problem, 404: Problem})
def visit(request: HttpRequest, resident_id: int, body: VisitIn) -> dict[str, Any]:
    u = user(request)
    r = _found(scoping.residents(u), resident_id, "no such resident")
    if not scoping.may_act(u):
        raise HttpError(403, "visits are recorded by grid workers, volunteers and community admins")
    with transaction.atomic():
        v = Visit.objects.create(resident=r, by=u, at=now(), kind="call" if body.kind == "call" else "visit",
                                 note=body.note)
        record(now(), u, "visited", r, visit=v.pk, kind=v.kind)
    return _resident_out(r, u)


@router.get("/gateways/unknown", response={200: list[GatewayOut], 403: Problem},
            summary="gateways that sent messages but are in no home yet (platform operator)")
def unknown_gateways(request: HttpRequest) -> list[dict[str, Any]]:
    if scoping.role(user(request)) != "platform-operator":
        raise HttpError(403, "the platform operator adopts unknown gateways")
    return [_gateway_out(g) for g in Gateway.objects.filter(home__isnull=True).order_by("pk")]


@router.post("/gateways/{gateway_id}/adopt", response={200: GatewayOut, 403: Problem, 404: Problem})
def adopt(request: HttpRequest, gateway_id: int, body: AdoptIn) -> dict[str, Any]:
    u = user(request)
    if scoping.role(u) != "platform-operator":
        raise HttpError(403, "the platform operator adopts unknown gateways")
    g = Gateway.objects.filter(pk=gateway_id, home__isnull=True).first()
    h = Home.objects.filter(pk=body.home).select_related("community").first()
    if g is None or h is None:
        raise HttpError(404, "no such unknown gateway or home")
    with transaction.atomic():
        g.home = h
        g.save(update_fields=["home"])
        # what it already sent moves with it into the community, residents matched by id; what is
        # still open starts its ladder now (in quarantine it paged nobody)
        for a in Alert.objects.filter(gateway=g, community__isnull=True):
            a.community = h.community
            a.resident = Resident.objects.filter(home=h, resident_id=a.resident_key).first()
            a.save(update_fields=["community", "resident"])
            if a.is_open and not a.test:
                escalation.schedule(a, active())
        record(now(), u, "adopted", g, home=h.pk)
    return _gateway_out(g)
