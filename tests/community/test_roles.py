"""Roles by need to know (#32): every role against every page and API path, and which fields each
sees (contacts, medical notes, health data, the wall), as the table in docs/community.md says.
Community "kz" has one resident (consent to monitoring recorded), an open fall, and an installer
who claimed its box last week."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from community_world import World, alert_payload, api
from testutil import ROOT

ROLES = ("platform-operator", "street-admin", "community-admin", "grid-worker", "volunteer", "installer", "relative")
PHONE, KEYHOLDER_PHONE = "13900000000", "13800000000"

# role -> page -> the status it gets (302: sent elsewhere). The resident, the alert and the home are kz's.
PAGES: dict[str, dict[str, int]] = {
    "platform-operator": {"wall": 200, "console": 200, "alert": 200, "resident": 200, "medical": 403, "family": 302,
                          "visits": 200, "reports": 200, "reports.xlsx": 200, "claim": 200},
    "street-admin": {"wall": 200, "console": 200, "alert": 200, "resident": 200, "medical": 403, "family": 302,
                     "visits": 200, "reports": 200, "reports.xlsx": 200, "claim": 403},
    "community-admin": {"wall": 200, "console": 200, "alert": 200, "resident": 200, "medical": 200, "family": 302,
                        "visits": 200, "reports": 200, "reports.xlsx": 200, "claim": 200},
    "grid-worker": {"wall": 200, "console": 200, "alert": 200, "resident": 200, "medical": 200, "family": 302,
                    "visits": 200, "reports": 200, "reports.xlsx": 200, "claim": 403},
    "volunteer": {"wall": 403, "console": 200, "alert": 200, "resident": 200, "medical": 403, "family": 302,
                  "visits": 200, "reports": 403, "reports.xlsx": 403, "claim": 403},
    "installer": {"wall": 403, "console": 200, "alert": 200, "resident": 200, "medical": 403, "family": 302,
                  "visits": 403, "reports": 403, "reports.xlsx": 403, "claim": 200},
    "relative": {"wall": 403, "console": 302, "alert": 200, "resident": 200, "medical": 403, "family": 200,
                 "visits": 403, "reports": 403, "reports.xlsx": 403, "claim": 403},
}
# role -> API path -> status
API: dict[str, dict[str, int]] = {
    r: {"alerts": 200, "alert": 200, "homes": 200, "residents": 200, "resident": 200,
        "medical": 200 if r in ("community-admin", "grid-worker") else 403, "stats": 200,
        "audit": 200 if r == "platform-operator" else 403, "unknown": 200 if r == "platform-operator" else 403,
        "identities": 200 if r in ("platform-operator", "community-admin", "installer") else 403}
    for r in ROLES
}
# role -> field -> shown (contacts: phone numbers; health: the 30-day trend and nightly figures)
FIELDS: dict[str, dict[str, bool]] = {
    "platform-operator": {"contacts": True, "health": False},
    "street-admin": {"contacts": True, "health": False},
    "community-admin": {"contacts": True, "health": True},
    "grid-worker": {"contacts": True, "health": True},
    "volunteer": {"contacts": True, "health": True},
    "installer": {"contacts": False, "health": False},
    "relative": {"contacts": True, "health": True},
}


@pytest.fixture
def kz(world: World, db: Any) -> Any:
    from eldergate.community.clock import now
    from eldergate.community.ingest.store import store
    from eldergate.community.models import BoxIdentity
    from eldergate.community.work import consent

    side = world.sides["kz"]
    store("alerts", "kz", "gw1", alert_payload("kz", "gw1", "kz-a1"), now(), db)
    consent.give(side.resident, consent.MONITORING, "杜秀英本人", side.users["community-admin"], now())
    BoxIdentity.objects.create(username="kz.gw1", site="kz", box_id="gw1", gateway=side.gateway,
                               issued_at=now() - timedelta(days=7), issued_by="kz-installer")
    return side


def _pages(side: Any) -> dict[str, str]:
    r = side.resident.pk
    return {"wall": "/wall", "console": "/console", "alert": "/console/alerts/kz.gw1.kz-a1",
            "resident": f"/console/residents/{r}", "medical": f"/console/residents/{r}/medical",
            "family": "/family", "visits": "/console/visits", "reports": "/reports", "reports.xlsx": "/reports.xlsx",
            "claim": "/console/claim"}


def _api_paths(side: Any) -> dict[str, str]:
    r = side.resident.pk
    return {"alerts": "/alerts", "alert": "/alerts/kz.gw1.kz-a1", "homes": "/homes", "residents": "/residents",
            "resident": f"/residents/{r}", "medical": f"/residents/{r}/medical", "stats": "/stats",
            "audit": "/audit", "unknown": "/gateways/unknown", "identities": "/identities"}


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_exactly_its_pages(kz: Any, role: str) -> None:
    from django.test import Client

    c = Client()
    c.force_login(kz.users[role])
    got = {name: c.get(path).status_code for name, path in _pages(kz).items()}
    assert got == PAGES[role]


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_exactly_its_api_paths(kz: Any, role: str) -> None:
    got = {name: api(kz.tokens[role], "GET", path)[0] for name, path in _api_paths(kz).items()}
    assert got == API[role]


@pytest.mark.parametrize("role", ROLES)
def test_each_role_sees_exactly_its_fields(kz: Any, role: str) -> None:
    from django.test import Client

    c = Client()
    c.force_login(kz.users[role])
    resident = c.get(f"/console/residents/{kz.resident.pk}").content.decode()
    alert = c.get("/console/alerts/kz.gw1.kz-a1").content.decode()
    want = FIELDS[role]
    assert (PHONE in resident) is want["contacts"] and (PHONE in alert) is want["contacts"], role
    assert (KEYHOLDER_PHONE in alert) is want["contacts"], role
    assert ('id="trend"' in resident) is want["health"], role
    _, residents = api(kz.tokens[role], "GET", "/residents")
    mine = [r for r in residents if r["id"] == kz.resident.pk]
    assert mine and bool(mine[0]["contacts"]) is want["contacts"] and mine[0]["monitoring_consent"]
    for page in (resident, alert):
        assert "青霉素" not in page and "4711" not in page  # medical notes and the key safe: their own page only
    if role == "relative":
        family = c.get("/family").content.decode()
        assert 'id="trend"' in family and "杜秀英" in family


def test_without_consent_nobody_sees_health_data_and_alerts_still_reach_people(kz: Any) -> None:
    from django.test import Client

    from eldergate.community.clock import now
    from eldergate.community.models import AuditEntry
    from eldergate.community.work import consent

    consent.withdraw(kz.resident, consent.MONITORING, kz.users["grid-worker"], now())
    assert AuditEntry.objects.filter(action="consent_withdrawn").count() == 1
    for role in ("community-admin", "grid-worker", "volunteer", "relative"):
        c = Client()
        c.force_login(kz.users[role])
        page = c.get(f"/console/residents/{kz.resident.pk}").content.decode()
        assert 'id="trend"' not in page and 'data-monitoring="0"' in page, role
        assert c.get("/console/alerts/kz.gw1.kz-a1").status_code == 200  # the fall is handled all the same
    c = Client()
    c.force_login(kz.users["relative"])
    assert "尚未登记" in c.get("/family").content.decode()
    # the grid worker records the consent again from the resident's page
    c = Client()
    c.force_login(kz.users["grid-worker"])
    r = c.post(f"/console/residents/{kz.resident.pk}/consent", {"action": "give", "given_by": "女儿 杜明（监护人）"})
    assert r.status_code == 302
    assert 'id="trend"' in c.get(f"/console/residents/{kz.resident.pk}").content.decode()
    # a volunteer cannot record or withdraw it
    v = Client()
    v.force_login(kz.users["volunteer"])
    assert v.post(f"/console/residents/{kz.resident.pk}/consent", {"action": "withdraw"}).status_code == 404


def test_the_wall_key_opens_the_wall_only_with_the_fields_the_community_allows(kz: Any) -> None:
    from django.test import Client

    from eldergate.community.models import AuditEntry

    key = kz.community.wall_key
    c = Client()
    wall = c.get("/wall", {"key": key})
    assert wall.status_code == 200
    html = wall.content.decode()
    assert PHONE not in html and KEYHOLDER_PHONE not in html and "高血压" not in html
    assert "杜老人 301" in html and "杜秀英" not in html  # the surname and the house number by default
    for path in ("/console", f"/console/residents/{kz.resident.pk}", "/reports", "/family"):
        assert c.get(path, {"key": key}).status_code == 302, path  # to the login page
    assert api(key, "GET", "/alerts")[0] == 401
    # a community that turns medical notes on: shown, and the showing is audited (once an hour)
    kz.community.wall_medical = True
    kz.community.save()
    assert "高血压" in c.get("/wall/tiles", {"key": key}).content.decode()
    c.get("/wall/tiles", {"key": key})
    shown = AuditEntry.objects.filter(action="medical_shown_on_wall")
    assert shown.count() == 1 and shown[0].details["residents"] == [kz.resident.pk]


def test_the_role_table_in_the_docs_is_the_code(kz: Any) -> None:
    from eldergate.community.work.scoping import policy_table

    docs = (ROOT / "docs" / "community.md").read_text(encoding="utf-8")
    assert policy_table() in docs
