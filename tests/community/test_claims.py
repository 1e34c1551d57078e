"""Claiming a box, in process: the code, the one collection, the scoping of installers, a replaced
box's identity revoked, hostile collectors; the community CA's files; the NATS users file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from community_world import World, api

KEY = "k" * 32


def _claim(w: World, side: str = "kz", role: str = "installer", code: str = "ABCDE-FGH23") -> tuple[int, Any]:
    return api(w.sides[side].tokens[role], "POST", "/claims", {"code": code, "site": side, "gateway": "gw1"})


def _collect(code: str, key: str = KEY, site: str = "kz", gateway: str = "gw1") -> tuple[int, Any]:
    from django.test import Client

    r = Client().post("/api/v1/claims/collect", data={"code": code, "box_key": key, "site": site, "gateway": gateway},
                      content_type="application/json")
    return r.status_code, r.json()


def _broker_has_it(username: str) -> None:
    from eldergate.community.models import BoxIdentity

    BoxIdentity.objects.filter(username=username).update(applied=True)


@pytest.fixture
def broker_checks(db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server runs with a broker that checks identities ([broker] identities = "dynsec")."""
    from eldergate.community.api import identity

    cfg = db.model_copy(update={"broker": db.broker.model_copy(update={"identities": "dynsec"})})
    monkeypatch.setattr(identity, "active", lambda: cfg)


def test_a_claimed_box_collects_once_after_the_broker_has_its_identity(world: World, broker_checks: None) -> None:
    assert _collect("ABCDE-FGH23")[0] == 202  # nobody claimed it yet
    status, got = _claim(world, code="abcde fgh23")  # typed on a phone: case and spaces do not matter
    assert status == 201 and got["username"] == "kz.gw1" and not got["collected"]
    status, body = _collect("ABCDE-FGH23")
    assert status == 202 and "broker" in body["why"]  # the broker is told first, or the box is refused
    _broker_has_it("kz.gw1")
    status, body = _collect("ABCDE-FGH23")
    assert status == 200 and body["username"] == "kz.gw1" and len(body["password"]) >= 24
    again = _collect("ABCDE-FGH23")  # the first answer was lost: the same box gets the same
    assert again == (200, body)
    thief = _collect("ABCDE-FGH23", key="t" * 32)  # the code read off the screen, another device
    assert thief[0] == 403 and thief[1]["password"] == ""
    wrong = _collect("ABCDE-FGH23", site="other")
    assert wrong[0] == 403 and wrong[1]["password"] == ""
    # the same code cannot be claimed twice; a new box for the same home revokes the old identity
    assert _claim(world)[0] == 400
    assert _claim(world, code="HJKMN-PQR45")[0] == 201
    listed = api(world.sides["kz"].tokens["installer"], "GET", "/identities")[1]
    assert [(i["username"], i["revoked_at"] is None) for i in listed] == [("kz.gw1", True), ("kz.gw1", False)]
    assert _collect("ABCDE-FGH23")[0] == 403  # the old box's credentials are gone for good


def test_only_installers_and_admins_claim_and_only_in_their_own_community(world: World) -> None:
    for role in ("grid-worker", "volunteer", "relative", "street-admin"):
        assert _claim(world, role=role)[0] == 403, role
    assert api(world.sides["other"].tokens["installer"], "POST", "/claims",
               {"code": "ABCDE-FGH23", "site": "kz", "gateway": "gw1"})[0] == 404
    gw = world.sides["kz"].gateway.pk
    assert api(world.sides["other"].tokens["installer"], "POST", f"/gateways/{gw}/revoke", {})[0] == 404
    assert _claim(world, role="community-admin")[0] == 201
    assert api(world.sides["kz"].tokens["installer"], "POST", f"/gateways/{gw}/revoke", {"reason": "removed"})[0] == 200
    assert api(world.sides["kz"].tokens["installer"], "POST", f"/gateways/{gw}/revoke", {})[0] == 404  # gone already


def test_the_console_claim_page_claims_for_the_installers_homes_only(world: World) -> None:
    from django.test import Client

    c = Client()
    c.force_login(world.sides["kz"].users["installer"])
    page = c.get("/console/claim")
    assert page.status_code == 200 and b"kz/gw1" in page.content and b"other/gw1" not in page.content
    done = c.post("/console/claim", {"code": "QRSTU-VWX67", "gateway": str(world.sides["kz"].gateway.pk)})
    assert b'data-claimed="1"' in done.content and b"kz.gw1" in done.content
    foreign = c.post("/console/claim", {"code": "QRSTU-VWX68", "gateway": str(world.sides["other"].gateway.pk)})
    assert b'data-claimed="1"' not in foreign.content
    # the box is taken out of the home: one tap revokes it (another community's: refused)
    api(world.sides["other"].tokens["installer"], "POST", "/claims",
        {"code": "QRSTU-VWX69", "site": "other", "gateway": "gw1"})
    assert b"other.gw1" not in c.post("/console/claim", {"revoke": "other.gw1"}).content
    gone = c.post("/console/claim", {"revoke": "kz.gw1"})
    assert b'data-claimed="1"' in gone.content and "吊销".encode() in gone.content
    from eldergate.community.models import BoxIdentity

    assert not BoxIdentity.objects.filter(username="kz.gw1", revoked_at__isnull=True).exists()
    assert BoxIdentity.objects.filter(username="other.gw1", revoked_at__isnull=True).exists()
    c.force_login(world.sides["kz"].users["grid-worker"])
    assert c.get("/console/claim").status_code == 403


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(code=st.text(max_size=40), key=st.text(min_size=16, max_size=128),
       site=st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True))
def test_a_hostile_collector_gets_nothing_and_breaks_nothing(world: World, code: str, key: str, site: str) -> None:
    _claim(world, code="ABCDE-FGH23")
    _broker_has_it("kz.gw1")
    status, body = _collect(code, key, site)
    assert status in (202, 403, 422, 429)
    if status == 200 or (isinstance(body, dict) and body.get("password")):
        raise AssertionError(f"credentials for {code!r} {site!r}")


def test_the_community_ca_issues_and_revokes(tmp_path: Path) -> None:
    from cryptography import x509

    from eldergate.community.identity import ca

    auth = ca.init(tmp_path / "ca", "test CA")
    assert (auth.key_file.stat().st_mode & 0o777) == 0o600
    with pytest.raises(ca.CaError):
        ca.init(tmp_path / "ca", "again")  # never made twice: every box trusts the first
    crt, key = ca.issue(tmp_path / "ca", "broker", tmp_path / "out", ["127.0.0.1", "mqtt.example.cn"])
    assert (key.stat().st_mode & 0o777) == 0o600
    cert = x509.load_pem_x509_certificate(crt.read_bytes())
    root = x509.load_pem_x509_certificate(auth.cert_file.read_bytes())
    cert.verify_directly_issued_by(root)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "mqtt.example.cn" in sans.get_values_for_type(x509.DNSName)
    box, _ = ca.issue(tmp_path / "ca", "kz.gw1", tmp_path / "out")
    serial = ca.revoke(tmp_path / "ca", box, now=dt.datetime.now(dt.UTC))
    crl = x509.load_pem_x509_crl(auth.crl_file.read_bytes())
    assert crl.is_signature_valid(root.public_key())
    assert crl.get_revoked_certificate_by_serial_number(int(serial, 16)) is not None
    assert crl.get_revoked_certificate_by_serial_number(cert.serial_number) is None


def test_the_nats_users_file_binds_each_box_and_is_stable() -> None:
    import json

    import bcrypt

    from eldergate.community.identity.nats_users import User, digests, render

    users = [User("kz.gw1", "pw-kz", "kz", "gw1"), User("eldergate-server", "pw-server", server=True),
             User("kz:all", "pw-rig", "kz", "")]
    text = render("eldergate/v1", users)
    rows = [json.loads(line) for line in text.splitlines() if line.strip().startswith("{")]
    assert rows[0]["user"] == "eldergate-server" and rows[0]["permissions"]["publish"]["allow"] == [">"]
    box = next(r for r in rows if r["user"] == "kz.gw1")
    assert box["allowed_connection_types"] == ["MQTT"]
    assert "eldergate.v1.kz.gw1.alerts" in box["permissions"]["publish"]["allow"]
    assert not any(s.endswith((".ack", ".cmd", ".config")) for s in box["permissions"]["publish"]["allow"])
    assert box["permissions"]["subscribe"]["allow"] == ["eldergate.v1.kz.gw1.ack", "eldergate.v1.kz.gw1.cmd",
                                                        "eldergate.v1.kz.gw1.config", "eldergate.v1._server.status"]
    assert bcrypt.checkpw(b"pw-kz", box["password"].encode()) and "pw-kz" not in text
    assert render("eldergate/v1", users, digests(text)) == text  # nothing changed: the same file, no reload
    changed = render("eldergate/v1", [*users[:2], User("kz:all", "new", "kz", "")], digests(text))
    assert changed != text
