"""The published JSON Schemas match the models, and payloads round-trip through them."""

from __future__ import annotations

import json
from pathlib import Path

from eldergate.contract.messages import AckMessage, AlertMessage, all_schemas, write_schemas
from eldergate.gateway.core.alerts import Alert, AlertKind, AlertState, Severity
from eldergate.gateway.delivery.uplink import alert_message

from testutil import ROOT


def test_docs_schemas_are_current(tmp_path: Path) -> None:
    for path in write_schemas(tmp_path):
        published = ROOT / "docs" / "schemas" / path.name
        assert published.exists(), f"run: python -m eldergate.contract docs/schemas ({path.name})"
        assert json.loads(published.read_text()) == json.loads(path.read_text()), path.name
    assert len(list((ROOT / "docs" / "schemas").glob("*.schema.json"))) == len(all_schemas())


def test_alert_message_round_trip_and_no_names() -> None:
    a = Alert("id1", AlertKind.FALL, Severity.CRITICAL, "r1", "bedroom", "room_radar", 10.0, {"down_s": 45.0},
              raised_at=10.0).advance(AlertState.RESOLVED, 20.0)
    msg = alert_message(a, "s1", "gw1", 21.0)
    again = AlertMessage.model_validate_json(msg.model_dump_json())
    assert again == msg and again.title_zh == "跌倒" and again.state == "resolved"
    assert AckMessage.model_validate_json('{"alert_id": "id1", "kind": "received", "state": "raised", "x": 1}')
