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


def test_the_stored_alert_and_the_wire_alert_are_one_shape() -> None:
    """What the outbox stores (Alert.to_json) names every field as the contract does and means the
    same by it; the wire adds only the envelope, the titles and the hand-over."""
    a = Alert("id1", AlertKind.NOT_BACK, Severity.CRITICAL, "r1", "hall", "front_door", 10.0,
              {"event": "not_back", "out_min": 95.0, "urgent": True}, raised_at=12.0, paged=("relative",)
              ).advance(AlertState.ACKNOWLEDGED, 30.0, "li.ming")
    stored = a.to_json()
    wire = json.loads(alert_message(a, "s1", "gw1", 31.0, handover_s=45.0).model_dump_json())
    box_only = {"record", "t", "delivered_at", "acknowledged_at"}
    wire_only = {"v", "site", "gateway", "sent_at", "title_zh", "title_en", "handover_s"}
    assert set(stored) - box_only == set(wire) - wire_only
    assert {k: stored[k] for k in set(stored) - box_only} == {k: wire[k] for k in set(wire) - wire_only}
    assert stored["record"] == "alert" and stored["kind"] == "not_back"
    assert Alert.from_json(stored) == a


def test_an_alert_stored_before_the_one_shape_still_reads() -> None:
    """A box updated with alerts still in its outbox reads their old shape ("kind": "alert", "name")."""
    old = {"t": 12.0, "kind": "alert", "name": "gas", "value": None, "id": "g1", "severity": "critical",
           "state": "raised", "sensor": "kitchen_gas", "resident": "", "room": "kitchen", "started": 12.0,
           "evidence": {"event": "gas"}, "raised_at": 12.0, "delivered_at": None, "acknowledged_at": None,
           "acknowledged_by": None, "resolved_at": None, "paged": []}
    a = Alert.from_json(old)
    assert a.kind == AlertKind.GAS and a.id == "g1" and a.sensor == "kitchen_gas"


def test_the_box_configuration_names_contact_roles_as_the_contract_does() -> None:
    """config/ may not import contract/ (the import contracts), so the contact roles are written on
    both sides of that line: the server's desired configuration must carry only roles a box's
    TOML accepts, and the other way round."""
    from typing import get_args

    from eldergate.config import schema
    from eldergate.contract import messages

    assert get_args(schema.ContactRole) == get_args(messages.ContactRole)
