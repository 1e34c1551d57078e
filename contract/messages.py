"""The contract with the community server: MQTT topics and the JSON of every payload.

Topics live under ``<prefix>/<site>/<gateway>/`` (prefix ``eldergate/v1``):

| topic    | direction        | QoS | retained | payload          |
| -------- | ---------------- | --- | -------- | ---------------- |
| alerts   | gateway → server | 1   | no       | AlertMessage     |
| events   | gateway → server | 1   | no       | EventMessage     |
| vitals   | gateway → server | 0   | no       | VitalsMessage    |
| summary  | gateway → server | 1   | no       | SummaryMessage   |
| status   | gateway → server | 1   | yes      | StatusMessage (last will: state "offline") |
| acked    | gateway → server | 1   | no       | AckAppliedMessage |
| ack      | server → gateway | 1   | no       | AckMessage       |
| cmd      | server → gateway | 1   | no       | CommandMessage   |

and one topic for the server itself, ``<prefix>/_server/status`` (server → every gateway,
retained, ServerStatusMessage; its last will says "offline").

An alert leaves the gateway's outbox only when the server answers with an AckMessage of
kind ``received`` for that alert id and state; a person's acknowledgement is kind
``acknowledged``, which the gateway confirms on ``acked`` once applied and stored: the
server resends it until then. `docs/contract.md` describes it and `docs/schemas/` holds the JSON
Schemas generated from these models (``python -m eldergate.contract docs/schemas``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from eldergate.contract.alert_kinds import AlertKind, Severity
from eldergate.contract.bounds import (
    MAX_DETAILS_BYTES,
    MAX_EVIDENCE_BYTES,
    MAX_FIGURES_BYTES,
    bounded_bag,
)
from eldergate.contract.events import EventName
from eldergate.contract.evidence import EVIDENCE, known

SCHEMA_VERSION = 1

# Every field has a range or a length (docs/contract.md, "Limits"): a faulty or hostile box can
# send anything, and the server must refuse what no honest box sends before it touches a database.
Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="letters, digits, _ and -; 1-64")]
OptionalId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{0,64}$", description="an id, or empty")]
Word = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$", description="a lower-case name, 1-40")]
_PRINTABLE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"  # no control characters (PostgreSQL refuses NUL)
Person = Annotated[str, Field(min_length=1, max_length=150, pattern=_PRINTABLE,
                              description="who (a user's id or display name)")]
UnixTime = Annotated[float, Field(ge=0, le=4_102_444_800, allow_inf_nan=False,
                                  description="Unix seconds, before 2100")]
Rate = Annotated[float, Field(ge=0, le=400, allow_inf_nan=False)]
Title = Annotated[str, Field(max_length=200, pattern=_PRINTABLE)]
# where a reading came from: a room or sensor id, or a sensor and its source ("bed_radar:presence")
Label = Annotated[str, Field(max_length=64, pattern=_PRINTABLE)]
# the roles of a resident's contacts, as the box's TOML and the server's desired configuration name them
ContactRole = Literal["grid_worker", "relative", "volunteer", "duty_desk"]


# the evidence keys with their units, for a reader of the JSON Schema
_EVIDENCE_SCHEMA: dict[str, Any] = {"propertyNames": {"enum": [str(k) for k in EVIDENCE]},
                                    "x-units": {str(k): unit for k, (unit, _) in EVIDENCE.items() if unit}}


def _bag(limit: int) -> Any:
    return AfterValidator(lambda v: bounded_bag(v, limit))


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    v: int = Field(SCHEMA_VERSION, ge=1, le=1000)
    site: Id
    gateway: Id
    sent_at: UnixTime = Field(description="Unix seconds when the gateway (re)sent it")


class AlertMessage(Message):
    id: Id = Field(description="stable alert id, unique within its gateway; the same across resends and replays")
    kind: AlertKind = Field(description="contract/alert_kinds.py: a server is updated before its boxes")
    severity: Severity
    state: Literal["raised", "delivered", "acknowledged", "resolved"]
    resident: OptionalId = Field(description="resident id (never the name)")
    room: Label
    sensor: Label
    started: UnixTime
    raised_at: UnixTime
    resolved_at: UnixTime | None = None
    acknowledged_by: Person | None = None
    evidence: Annotated[dict[str, Any], _bag(MAX_EVIDENCE_BYTES), AfterValidator(known)] = Field(
        default_factory=dict, json_schema_extra=_EVIDENCE_SCHEMA,
        description="numbers that raised it (a flat or shallow JSON object, bounded); keys from "
                    "contract/evidence.py, others are dropped by the reader")
    title_zh: Title
    title_en: Title
    paged: list[ContactRole] = Field(
        default_factory=list, max_length=4,
        description="the roles of the contacts the gateway has paged itself for this alert (the server could not "
                    "be reached, or they are the home's first ring): the server's ladder does not page them again "
                    "(docs/alert-lifecycle.md, 'Who is paged')")
    handover_s: float | None = Field(
        None, ge=0, le=86_400, allow_inf_nan=False,
        description="the gateway pages its own contacts for this alert if it has no receipt this many seconds "
                    "after raised_at (none: it never does). A copy sent before then may be older than its paging")


class EventMessage(Message):
    t: UnixTime
    name: EventName
    resident: OptionalId
    room: Label = ""
    sensor: Label = ""
    value: Annotated[float, Field(ge=-1e9, le=1e9, allow_inf_nan=False)] | None = None
    details: Annotated[dict[str, Any], _bag(MAX_DETAILS_BYTES)] = Field(default_factory=dict)


class VitalsMessage(Message):
    t: UnixTime
    resident: OptionalId
    heart_rate_bpm: Rate | None
    breathing_rate_bpm: Rate | None
    quality: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] | None
    in_bed: bool | None = None


class SummaryMessage(Message):
    resident: OptionalId
    period_start: UnixTime
    period_end: UnixTime
    figures: Annotated[dict[str, Any], _bag(MAX_FIGURES_BYTES)]


class StatusMessage(Message):
    state: Literal["online", "offline"]
    version: Annotated[str, Field(max_length=64, pattern=_PRINTABLE)] = ""
    unsent_alerts: Annotated[int, Field(ge=0, le=10_000_000)] = 0
    sensors: Annotated[dict[Id, Annotated[str, Field(max_length=16, pattern=_PRINTABLE)]], Field(max_length=64)] = \
        Field(default_factory=dict, description="sensor id -> ok | silent | offline")
    clock_trusted: bool = True
    # the server's desired configuration (contract/desired_config.py): the version in effect (0: the
    # box's TOML alone), and the last version it refused with the first reason ("field: why")
    config_version: Annotated[int, Field(ge=0, le=2**31 - 1)] = 0
    config_refused_version: Annotated[int, Field(ge=0, le=2**31 - 1)] = 0
    config_refused: Annotated[str, Field(max_length=300, pattern=_PRINTABLE)] = ""
    started_at: UnixTime | None = Field(None, description="when the gateway's process started (a restart shows)")
    # the last software update it was asked for (contract/releases.py, docs/deploy-city.md "Software updates")
    update_version: Annotated[str, Field(max_length=40, pattern=_PRINTABLE)] = ""
    update_state: Literal["", "refused", "installing", "pending", "confirmed", "rolled_back", "failed"] = ""
    update_reason: Annotated[str, Field(max_length=300, pattern=_PRINTABLE)] = ""


class AckMessage(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    alert_id: Id
    kind: Literal["received", "acknowledged"]
    state: Word | None = Field(None, description="for received: the alert state that was received")
    by: Person | None = Field(None, description="for acknowledged: who (a grid worker's id)")
    paged: list[ContactRole] = Field(
        default_factory=list, max_length=4,
        description="for received: the roles the received copy said its gateway had paged. A gateway that has "
                    "paged more since keeps its alert and sends it again (docs/alert-lifecycle.md, 'Who is paged')")


class AckAppliedMessage(Message):
    """The gateway has applied and stored a person's acknowledgement (or had already)."""

    alert_id: Id
    by: Person | None = None
    state: Word | None = Field(None, description="the alert's state at the gateway now; null if it never knew it")


class ServerStatusMessage(BaseModel):
    """Retained on ``<prefix>/_server/status``: a gateway resends everything unconfirmed when the
    server comes back online (its subscriptions may have been lost with a broker)."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    v: int = SCHEMA_VERSION
    state: Literal["online", "offline"]
    sent_at: UnixTime


class CommandMessage(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    command: Literal["status", "test_alert", "acknowledge", "outdoor_temperature", "restart", "update", "diagnostics"]
    alert_id: Id | None = None
    by: Person | None = None
    # outdoor_temperature: the community's outdoors now (None: unknown again); outings run short in the cold
    temperature_c: float | None = Field(None, ge=-80, le=70, allow_inf_nan=False)
    # update: install this release from this signed bundle (contract/releases.py checks it on the box)
    release: Annotated[str, Field(pattern=r"^[0-9][0-9A-Za-z.+-]{0,39}$")] | None = None
    bundle_url: Annotated[str, Field(max_length=500, pattern=r"^https?://[^\s]+$")] | None = None
    # diagnostics: post the last minutes of capture here (a one-time address on the community
    # server); raw waveforms in it only when raw_waveforms (sent only with the residents' consent)
    upload_url: Annotated[str, Field(max_length=500, pattern=r"^https?://[^\s]+$")] | None = None
    raw_waveforms: bool = False


SCHEMAS: dict[str, type[BaseModel]] = {
    "alert": AlertMessage, "event": EventMessage, "vitals": VitalsMessage, "summary": SummaryMessage,
    "status": StatusMessage, "ack": AckMessage, "cmd": CommandMessage, "acked": AckAppliedMessage,
    "server_status": ServerStatusMessage,
}


def topic(prefix: str, site: str, gateway: str, leaf: str) -> str:
    return f"{prefix}/{site}/{gateway}/{leaf}"


def server_status_topic(prefix: str) -> str:
    return f"{prefix}/_server/status"


# what a server subscribes to: only what gateways send, never its own receipts back
GATEWAY_LEAVES = ("alerts", "events", "vitals", "summary", "status", "acked")


def all_schemas() -> dict[str, type[BaseModel]]:
    """Every message of the contract, this module's and the desired configuration's."""
    from eldergate.contract.desired_config import ConfigMessage  # it builds on this module's types

    return {**SCHEMAS, "config": ConfigMessage}


def write_schemas(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, model in all_schemas().items():
        path = folder / f"{name}.schema.json"
        path.write_text(json.dumps(model.model_json_schema(), indent=2, ensure_ascii=False) + "\n")
        out.append(path)
    return out
