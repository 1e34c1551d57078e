"""Tenancy and roles, per endpoint: a user of another community sees nothing (OpenRemote shipped a
cross-realm disclosure because three endpoints ignored the realm); medical notes only for the
roles that need them, every read in the audit trail, encrypted in the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from community_world import World, admin_client, alert_payload, api

NOW = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)


def _ingest(cfg: Any, site: str, alert_id: str, **kw: Any) -> None:
    from eldergate.community.ingest.store import store

    store("alerts", site, "gw1", alert_payload(site, "gw1", alert_id, **kw), NOW, cfg)


@pytest.fixture
def two(world: World, db: Any) -> World:
    _ingest(db, "kz", "kz-a1")
    _ingest(db, "other", "other-a1")
    return world


# (method, path, body): every endpoint that names an object of community "kz"
def _kz_endpoints(w: World) -> list[tuple[str, str, dict[str, Any] | None]]:
    kz = w.sides["kz"]
    until = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    return [
        ("GET", "/alerts/kz-a1", None),
        ("POST", "/alerts/kz-a1/acknowledge", None),
        ("POST", "/alerts/kz-a1/on-the-way", None),
        ("POST", "/alerts/kz-a1/arrived", None),
        ("POST", "/alerts/kz-a1/resolve", {"outcome": "false_alarm", "note": "x"}),
        ("POST", "/alerts/kz-a1/assign", {"user": "kz-grid-worker"}),
        ("POST", "/alerts/kz-a1/comments", {"text": "seen"}),
        ("GET", f"/homes/{kz.home.pk}", None),
        ("POST", f"/homes/{kz.home.pk}/snooze", {"reason": "in hospital", "until": until}),
        ("GET", f"/residents/{kz.resident.pk}", None),
        ("GET", f"/residents/{kz.resident.pk}/medical", None),
        ("POST", f"/residents/{kz.resident.pk}/visits", {"kind": "visit"}),
    ]


@pytest.mark.parametrize("role", ["street-admin", "community-admin", "grid-worker", "volunteer", "relative",
                                  "installer"])
def test_another_communitys_user_sees_nothing_of_kz_on_any_endpoint(two: World, role: str) -> None:
    token = two.sides["other"].tokens[role]
    for method, path, body in _kz_endpoints(two):
        status, _ = api(token, method, path, body)
        assert status == 404, f"{role} of another community got {status} on {method} {path}"
    # and the lists hold only their own (an installer's: only the homes they are installing, none here)
    own = role != "installer"
    _, page = api(token, "GET", "/alerts")
    assert [a["id"] for a in page["items"]] == (["other-a1"] if own else [])
    _, homes = api(token, "GET", "/homes")
    assert [h["community"] for h in homes] == (["other"] if own else [])
    _, residents = api(token, "GET", "/residents")
    assert [r["id"] for r in residents] == ([two.sides["other"].resident.pk] if own else [])
    status, stats = api(token, "GET", "/stats")
    assert status == 200 and stats["alerts"] == (1 if own else 0)
    status, _ = api(token, "GET", "/audit")
    assert status == 403
    status, _ = api(token, "GET", "/gateways/unknown")
    assert status == 403


def test_without_a_token_or_with_a_wrong_one_nothing_answers(two: World) -> None:
    from django.test import Client

    for path in ("/alerts", "/homes", "/residents", "/stats", "/audit", "/alerts/kz-a1"):
        assert Client().get(f"/api/v1{path}").status_code == 401
        assert api("eg_not-a-token", "GET", path)[0] == 401


def test_the_platform_operator_sees_every_community(two: World) -> None:
    _, page = api(two.operator_token, "GET", "/alerts")
    assert sorted(a["id"] for a in page["items"]) == ["kz-a1", "other-a1"]


def test_a_relative_sees_only_their_elder(two: World, db: Any) -> None:
    from eldergate.community.models import Home, Resident

    kz = two.sides["kz"]
    neighbour_home = Home.objects.create(community=kz.community, address="幸福路 10 号")
    from eldergate.community.models import Gateway

    Gateway.objects.create(site="kz", gateway="gw2", home=neighbour_home)
    neighbour = Resident.objects.create(home=neighbour_home, resident_id="r1", name="李大爷")
    from eldergate.community.ingest.store import store

    store("alerts", "kz", "gw2", alert_payload("kz", "gw2", "kz-gw2-a1"), NOW, db)
    token = kz.tokens["relative"]
    _, page = api(token, "GET", "/alerts")
    assert [a["id"] for a in page["items"]] == ["kz-a1"]
    assert api(token, "GET", "/alerts/kz-gw2-a1")[0] == 404
    assert api(token, "GET", f"/residents/{neighbour.pk}")[0] == 404
    assert [r["id"] for r in api(token, "GET", "/residents")[1]] == [kz.resident.pk]
    assert api(token, "GET", f"/residents/{kz.resident.pk}/medical")[0] == 403
    assert api(token, "POST", "/alerts/kz-a1/acknowledge")[0] == 403


def test_medical_notes_are_encrypted_readable_by_the_right_roles_and_every_read_is_audited(two: World) -> None:
    from django.db import connection

    from eldergate.community.models import AuditEntry

    kz = two.sides["kz"]
    with connection.cursor() as cur:
        cur.execute("SELECT medical_history, allergies FROM community_resident WHERE id = %s", [kz.resident.pk])
        raw = " ".join(cur.fetchone())
    assert "高血压" not in raw and "青霉素" not in raw and raw.startswith("gAAAA")

    for role in ("grid-worker", "community-admin"):
        status, body = api(kz.tokens[role], "GET", f"/residents/{kz.resident.pk}/medical")
        assert status == 200 and "高血压" in body["medical_history"] and body["allergies"] == "青霉素"
        assert "4711" in body["key_safe"]
    for role in ("volunteer", "street-admin", "platform-operator"):
        assert api(kz.tokens[role], "GET", f"/residents/{kz.resident.pk}/medical")[0] == 403, role
    # an installer who is not installing this home does not see the resident at all
    assert api(kz.tokens["installer"], "GET", f"/residents/{kz.resident.pk}/medical")[0] == 404
    reads = AuditEntry.objects.filter(action="medical_read", object_id=str(kz.resident.pk))
    assert sorted(e.actor_name for e in reads) == ["kz-community-admin", "kz-grid-worker"]
    refused = AuditEntry.objects.filter(action="medical_read_refused").count()
    assert refused == 3
    # the operator reads the trail through the API
    status, trail = api(two.operator_token, "GET", "/audit?action=medical_read")
    assert status == 200 and len(trail) == 2


def test_audit_entries_cannot_be_changed_or_deleted(two: World) -> None:
    from eldergate.community.models import AuditEntry
    from eldergate.community.models.audit import AppendOnly

    entry = AuditEntry.objects.first()
    assert entry is not None
    entry.action = "nothing happened"
    with pytest.raises(AppendOnly):
        entry.save()
    with pytest.raises(AppendOnly):
        entry.delete()


def test_unknown_gateways_alerts_are_stored_shown_to_the_operator_and_adopted(world: World, db: Any) -> None:
    from eldergate.community.models import Gateway

    _ingest(db, "newsite", "stray-1")  # a site that is no community: only the operator sees it
    _, page = api(world.operator_token, "GET", "/alerts")
    stray = [a for a in page["items"] if a["id"] == "stray-1"]
    assert stray and stray[0]["community"] is None and stray[0]["state"] == "received"
    # nobody in a community sees it, and the operator may answer it
    for side in world.sides.values():
        assert api(side.tokens["community-admin"], "GET", "/alerts/stray-1")[0] == 404
    assert api(world.operator_token, "POST", "/alerts/stray-1/acknowledge")[0] == 200
    status, unknown = api(world.operator_token, "GET", "/gateways/unknown")
    assert status == 200 and [(g["site"], g["gateway"]) for g in unknown] == [("newsite", "gw1")]
    gw = Gateway.objects.get(site="newsite")
    kz = world.sides["kz"]
    assert api(kz.tokens["community-admin"], "POST", f"/gateways/{gw.pk}/adopt", {"home": kz.home.pk})[0] == 403
    assert api(world.operator_token, "POST", f"/gateways/{gw.pk}/adopt", {"home": kz.home.pk})[0] == 200
    assert api(kz.tokens["community-admin"], "GET", "/alerts/stray-1")[0] == 200


def test_the_admin_is_the_platform_operators_and_opening_a_resident_is_audited(world: World) -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from eldergate.community.models import AuditEntry

    kz = world.sides["kz"]
    assert not kz.users["community-admin"].is_staff  # the admin pages are not scoped per community
    op = get_user_model().objects.get(username="kz-platform-operator")
    c = Client()
    c.force_login(op)  # a session not opened with the password (a login link's) does not open the admin
    assert c.get(f"/admin/community/resident/{kz.resident.pk}/change/").status_code == 302
    c = admin_client(op)
    page = c.get(f"/admin/community/resident/{kz.resident.pk}/change/")
    assert page.status_code == 200 and "青霉素" in page.content.decode()
    assert AuditEntry.objects.filter(action="medical_read", actor_name="kz-platform-operator").count() == 1
    c.force_login(kz.users["community-admin"])
    assert c.get(f"/admin/community/resident/{kz.resident.pk}/change/").status_code == 302  # to the login


def test_an_unregistered_box_is_quarantined_until_adopted(world: World, db: Any) -> None:
    """A box naming a community's code is not that community's box: its alerts are stored and
    receipted, seen by the platform operator only, and page nobody until it is adopted (#29)."""
    from eldergate.community.ingest.store import store
    from eldergate.community.models import EscalationJob

    stored = store("alerts", "kz", "gw-new", alert_payload("kz", "gw-new", "fresh-1"), NOW, db)
    assert stored.receipt is not None
    kz, other = world.sides["kz"], world.sides["other"]
    assert api(kz.tokens["grid-worker"], "GET", "/alerts/fresh-1")[0] == 404
    assert api(other.tokens["grid-worker"], "GET", "/alerts/fresh-1")[0] == 404
    status, a = api(world.operator_token, "GET", "/alerts/kz.gw-new.fresh-1")
    assert status == 200 and a["community"] is None and a["home"] is None
    assert not EscalationJob.objects.exists()  # pages nobody
    _, unknown = api(world.operator_token, "GET", "/gateways/unknown")
    assert ("kz", "gw-new") in {(g["site"], g["gateway"]) for g in unknown}
