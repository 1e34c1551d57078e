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
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    v: int = SCHEMA_VERSION
    site: str
    gateway: str
    sent_at: float = Field(description="Unix seconds when the gateway (re)sent it")


class AlertMessage(Message):
    id: str = Field(description="stable alert id; the same across resends and replays")
    kind: str
    severity: Literal["critical", "warning", "info"]
    state: Literal["raised", "delivered", "acknowledged", "resolved"]
    resident: str = Field(description="resident id (never the name)")
    room: str
    sensor: str
    started: float
    raised_at: float
    resolved_at: float | None = None
    acknowledged_by: str | None = None
    evidence: dict[str, Any] = Field(default_factory=dict, description="numbers that raised it")
    title_zh: str
    title_en: str


class EventMessage(Message):
    t: float
    name: str
    resident: str
    room: str = ""
    sensor: str = ""
    value: float | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class VitalsMessage(Message):
    t: float
    resident: str
    heart_rate_bpm: float | None
    breathing_rate_bpm: float | None
    quality: float | None
    in_bed: bool | None = None


class SummaryMessage(Message):
    resident: str
    period_start: float
    period_end: float
    figures: dict[str, Any]


class StatusMessage(Message):
    state: Literal["online", "offline"]
    version: str = ""
    unsent_alerts: int = 0
    sensors: dict[str, str] = Field(default_factory=dict, description="sensor id -> ok | silent | offline")
    clock_trusted: bool = True


class AckMessage(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    alert_id: str
    kind: Literal["received", "acknowledged"]
    state: str | None = Field(None, description="for received: the alert state that was received")
    by: str | None = Field(None, description="for acknowledged: who (a grid worker's id)")


class AckAppliedMessage(Message):
    """The gateway has applied and stored a person's acknowledgement (or had already)."""

    alert_id: str
    by: str | None = None
    state: str | None = Field(None, description="the alert's state at the gateway now; null if it never knew it")


class ServerStatusMessage(BaseModel):
    """Retained on ``<prefix>/_server/status``: a gateway resends everything unconfirmed when the
    server comes back online (its subscriptions may have been lost with a broker)."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    v: int = SCHEMA_VERSION
    state: Literal["online", "offline"]
    sent_at: float


class CommandMessage(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    command: Literal["status", "test_alert", "acknowledge"]
    alert_id: str | None = None
    by: str | None = None


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


def write_schemas(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, model in SCHEMAS.items():
        path = folder / f"{name}.schema.json"
        path.write_text(json.dumps(model.model_json_schema(), indent=2, ensure_ascii=False) + "\n")
        out.append(path)
    return out
