"""What the API answers, typed (the OpenAPI document is generated from these)."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any, Literal

from ninja import Schema
from pydantic import Field

from eldergate.contract.desired_config import ThresholdChanges


class HistoryOut(Schema):
    state: str
    at: datetime
    by: str


class CommentOut(Schema):
    at: datetime
    by: str
    text: str


class AlertOut(Schema):
    id: str
    ref: str  # site.gateway.id: the alert's address in /api/v1/alerts/{ref} and /console/alerts/{ref}
    kind: str
    severity: str
    site: str
    gateway: str
    resident: str
    resident_record: int | None
    home: int | None
    community: str | None
    room: str
    sensor: str
    title_zh: str
    title_en: str
    evidence: dict[str, Any]
    state: str
    open: bool
    test: bool
    origin: str
    raised_at: datetime
    received_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str
    on_way_at: datetime | None
    arrived_at: datetime | None
    resolved_at: datetime | None
    resolved_by: str
    outcome: str
    note: str
    assignee: str | None
    age_s: float
    repeats: int
    gateway_confirmed_ack: bool | None
    history: list[HistoryOut]
    comments: list[CommentOut]


class AlertPage(Schema):
    items: list[AlertOut]
    next: str | None


class StepIn(Schema):
    outcome: str = ""
    note: str = ""


class AssignIn(Schema):
    user: str | None


class CommentIn(Schema):
    text: str


class ContactOut(Schema):
    order: int
    name: str
    phone: str
    role: str
    consent_to_call: bool
    is_keyholder: bool


class ResidentOut(Schema):
    id: int
    resident_id: str
    key: str
    name: str
    birth_year: int | None
    home: int
    grid_worker: str | None
    volunteer: str | None
    contacts: list[ContactOut] = Field(description="empty for roles that do not call them (installers)")
    monitoring_consent: bool = Field(description="a live consent to monitoring is recorded: vitals may be shown")
    incomplete: list[str]
    thresholds: dict[str, Any] = Field(description="the box's thresholds the server sets (night_start …)")
    config_desired_version: int = Field(description="the home's desired configuration version")


class CommandIn(Schema):
    command: Literal["test_alert", "status", "restart", "diagnostics"]
    capture: bool = Field(False, description="diagnostics: the box also sends its last 10 minutes of capture "
                          "(replayable with `eldergate replay`), raw waveforms withheld by the box")
    raw_waveforms: bool = Field(False, description="diagnostics: the capture keeps the radars' raw breathing and "
                                "heart waveforms; needs every resident's recorded consent (scope raw_waveforms)")


class CommandOut(Schema):
    id: int
    gateway: int
    command: str
    by: str | None
    created_at: datetime
    sent_at: datetime | None
    done_at: datetime | None
    ok: bool | None = Field(description="None while waiting for the box's answer")
    result: str
    report: dict[str, Any] = Field(default_factory=dict, description="diagnostics: the box's report (states and "
                                   "figures: sensors, configuration findings, uplink, clock, storage, software)")
    capture: str = Field("", description="diagnostics: the capture asked for: '', no_waveforms or raw_waveforms")
    capture_received_at: datetime | None = Field(None, description="when the box's capture arrived "
                                                 "(GET …/commands/{id}/capture)")
    capture_bytes: int | None = None
    capture_span_s: float | None = Field(None, description="the time the capture covers")


class ConsentIn(Schema):
    scope: Literal["monitoring", "raw_waveforms"]
    given_by: str = Field(min_length=1, max_length=100, description="the resident or their guardian")


class ConsentOut(Schema):
    resident: int
    scope: str
    given_by: str
    given_at: datetime
    withdrawn_at: datetime | None


class ContactIn(Schema):
    order: int = Field(ge=1, le=99)
    name: str = Field(min_length=1, max_length=100)
    phone: str = Field("", max_length=30, pattern=r"^[0-9+() -]*$")
    role: Literal["child", "relative", "neighbour", "volunteer", "grid-worker", "doctor"]
    consent_to_call: bool = False
    is_keyholder: bool = False
    notify_url: str = Field("", max_length=500, pattern=r"^([a-z][a-z0-9+.-]*://\S+)?$",
                            description="Apprise URL: the box and the server's ladder push to it")


class ResidentPatch(Schema):
    """A change of what the home's box is sent: thresholds (merged over those set before) and/or the
    whole ordered list of contacts. Raises the home's config_desired_version."""

    night_start: time | None = Field(None, description='"HH:MM": when the night watch begins')
    night_end: time | None = Field(None, description='"HH:MM": when it ends')
    thresholds: ThresholdChanges | None = None
    contacts: list[ContactIn] | None = Field(None, max_length=10)


class MedicalOut(Schema):
    resident: int
    medical_history: str
    medications: str
    allergies: str
    key_safe: str


class GatewayOut(Schema):
    id: int
    site: str
    gateway: str
    home: int | None
    status: str
    online: bool
    last_seen: datetime | None
    version: str
    software_version: str = Field(description="the box's software, as its status says")
    config_desired_version: int = Field(description="its home's desired configuration version (0: none)")
    config_applied_version: int = Field(description="in effect on the box (0: its TOML alone)")
    config_refused_version: int
    config_refused: str = Field(description="why the box refused config_refused_version, naming the field")
    update_version: str = Field(description="the last software release it was asked to install")
    update_state: str = Field(description="what became of it: refused, installing, pending, confirmed, "
                              "rolled_back or failed (empty: never asked)")
    update_reason: str = Field(description="why it was refused or rolled back")
    unsent_alerts: int
    sensors: dict[str, str]
    last_test_ok: datetime | None


class HomeOut(Schema):
    id: int
    community: str
    address: str
    building: str
    unit: str
    house_number: str
    mode: str
    keyholder: bool
    snoozed_until: datetime | None
    gateways: list[GatewayOut]
    residents: list[int]
    open_alerts: int


class SnoozeIn(Schema):
    reason: str = Field(max_length=200)
    until: datetime


class AdoptIn(Schema):
    home: int


class VisitIn(Schema):
    kind: str = "visit"
    note: str = ""


class Problem(Schema):
    detail: str
