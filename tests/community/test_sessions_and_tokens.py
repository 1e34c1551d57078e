"""Sessions and tokens (#32): tokens expire and are revoked, and revoking a user ends their
sessions; no credential opens a session from a query string; one-time login links are short-lived,
single use and spent only by a POST; logins are throttled and audited; logout is POST only."""

from __future__ import annotations

import re
import subprocess
from datetime import timedelta
from typing import Any

from community_world import World, api
from testutil import clean_env, eldergate_cmd


def _eg(cfg: Any, *args: str) -> subprocess.CompletedProcess[str]:
    conf = cfg.server.data_dir / "tokens-test.toml"
    conf.write_text(f'[server]\ndatabase = "{cfg.server.database}"\n', encoding="utf-8")
    return subprocess.run(eldergate_cmd("community", *args, "--config", str(conf)), capture_output=True, text=True,
                          env=clean_env(), timeout=120)


def test_a_token_in_the_query_string_opens_no_session(world: World) -> None:
    from django.test import Client

    c = Client()
    token = world.sides["kz"].tokens["grid-worker"]
    c.get("/console/login", {"token": token})
    assert c.get("/console").status_code == 302  # still to the login page
    assert api(token, "GET", "/alerts")[0] == 200  # the token is for the API only


def test_a_login_link_opens_one_session_once_and_never_elsewhere(world: World) -> None:
    from django.test import Client

    from eldergate.community.clock import now
    from eldergate.community.models import AuditEntry, LoginLink

    user = world.sides["kz"].users["grid-worker"]
    secret = LoginLink.issue(user, now(), next_path="/console/visits")
    c = Client()
    # a chat app's preview fetches the page: a GET spends nothing
    assert c.get(f"/console/link/{secret}").status_code == 200
    assert c.get(f"/console/link/{secret}").status_code == 200
    r = c.post(f"/console/link/{secret}")
    assert r.status_code == 302 and r["Location"] == "/console/visits"
    assert c.get("/console/visits").status_code == 200
    assert AuditEntry.objects.filter(action="login_link", actor_name=user.username).count() == 1
    # spent: a second use (another device) gets nothing
    other = Client()
    assert other.post(f"/console/link/{secret}").status_code == 410
    assert other.get("/console").status_code == 302
    # a link's destination is a page of this server, whatever was asked
    for evil in ("//evil.example/x", "https://evil.example/", "javascript:alert(1)"):
        s = LoginLink.issue(user, now(), next_path=evil)
        r = Client().post(f"/console/link/{s}")
        assert r.status_code == 302 and r["Location"] == "/console", evil


def test_a_login_link_expires_and_dies_with_its_user(world: World) -> None:
    from django.test import Client

    from eldergate.community.clock import now
    from eldergate.community.models import LoginLink

    user = world.sides["kz"].users["volunteer"]
    old = LoginLink.issue(user, now() - timedelta(minutes=16))
    assert Client().post(f"/console/link/{old}").status_code == 410
    live = LoginLink.issue(user, now())
    user.is_active = False
    user.save()
    assert Client().post(f"/console/link/{live}").status_code == 410
    assert Client().post("/console/link/not-a-link").status_code == 410


def test_tokens_expire_and_the_cli_lists_and_revokes_them(world: World, db: Any) -> None:
    from django.test import Client

    from eldergate.community.clock import now
    from eldergate.community.models import ApiToken, AuditEntry

    kz = world.sides["kz"]
    user = kz.users["grid-worker"]
    expired = ApiToken.issue(user, name="old script", days=1, at=now() - timedelta(days=2))
    assert api(expired, "GET", "/alerts")[0] == 401
    token = ApiToken.issue(user, name="reports script", days=30)
    assert api(token, "GET", "/alerts")[0] == 200
    assert ApiToken.objects.get(digest=ApiToken.digest_of(token)).last_used is not None

    listed = _eg(db, "tokens", "list", "--user", user.username)
    assert listed.returncode == 0, listed.stderr
    assert "reports script" in listed.stdout and "old script" in listed.stdout and "expired" in listed.stdout
    assert token not in listed.stdout  # only digests are kept; the token itself is never shown again
    row = ApiToken.objects.get(digest=ApiToken.digest_of(token))
    revoked = _eg(db, "tokens", "revoke", str(row.pk))
    assert revoked.returncode == 0, revoked.stderr
    assert api(token, "GET", "/alerts")[0] == 401
    assert _eg(db, "tokens", "revoke", "99999").returncode == 2

    # a lost phone: every token, session and unused link of the user ends at once
    c = Client()
    c.force_login(user)
    assert c.get("/console").status_code == 200
    issued = _eg(db, "tokens", "issue", "--user", user.username, "--name", "tablet", "--days", "7")
    fresh = issued.stdout.strip().splitlines()[-1]
    assert issued.returncode == 0 and api(fresh, "GET", "/alerts")[0] == 200
    link = _eg(db, "login-link", user.username, "--next", "/console/visits")
    assert link.returncode == 0 and re.search(r"/console/link/\S+$", link.stdout.strip())
    secret = link.stdout.strip().rsplit("/", 1)[1]
    out = _eg(db, "tokens", "revoke", "--user", user.username)
    assert out.returncode == 0, out.stderr
    assert "session(s) ended" in out.stdout
    assert c.get("/console").status_code == 302
    assert api(fresh, "GET", "/alerts")[0] == 401
    assert Client().post(f"/console/link/{secret}").status_code == 410
    assert AuditEntry.objects.filter(action="user_access_revoked").count() == 1


def test_logins_are_throttled_and_audited(world: World) -> None:
    from axes.models import AccessAttempt, AccessLog
    from django.test import Client

    user = world.sides["kz"].users["grid-worker"]
    user.set_password("right-password-1")
    user.save()
    c = Client(REMOTE_ADDR="127.0.0.9")
    for _ in range(4):
        r = c.post("/console/login", {"username": user.username, "password": "wrong"})
        assert r.status_code == 200 and "用户名或密码错误" in r.content.decode()
    r = c.post("/console/login", {"username": user.username, "password": "wrong"})
    assert r.status_code == 429 and "15 分钟" in r.content.decode()
    # locked out: even the right password waits
    assert c.post("/console/login", {"username": user.username, "password": "right-password-1"}).status_code == 429
    assert AccessAttempt.objects.filter(username=user.username).exists()
    # another address is not locked out by this one's guessing, and a good login is logged
    other = Client(REMOTE_ADDR="127.0.0.10")
    assert other.post("/console/login", {"username": user.username, "password": "right-password-1"}).status_code == 302
    assert AccessLog.objects.filter(username=user.username).exists()


def test_logout_is_a_post_and_pages_carry_a_content_security_policy(world: World) -> None:
    from django.test import Client

    c = Client()
    c.force_login(world.sides["kz"].users["grid-worker"])
    assert c.get("/console/logout").status_code == 405  # a link or an <img> cannot log anyone out
    page = c.get("/console")
    csp = page["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp
    nonce = re.search(r"'nonce-([^']+)'", csp)
    assert nonce and f'<style nonce="{nonce.group(1)}">' in page.content.decode()
    assert page["X-Frame-Options"] == "DENY" and page["X-Content-Type-Options"] == "nosniff"
    assert c.post("/console/logout").status_code == 302
    assert c.get("/console").status_code == 302


def test_an_unknown_host_name_is_refused(world: World) -> None:
    from django.test import Client

    assert Client(HTTP_HOST="evil.example").get("/console/login").status_code == 400
    assert Client(HTTP_HOST="127.0.0.1:8000").get("/console/login").status_code == 200


def test_the_admin_needs_the_operators_password_and_second_factor(world: World) -> None:
    from django.test import Client
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from community_world import admin_client

    op = world.sides["kz"].users["platform-operator"]
    op.set_password("operator-pw-1")
    op.save()
    c = Client()
    assert c.post("/console/login", {"username": op.username, "password": "operator-pw-1"}).status_code == 302
    refused = c.get("/admin/", follow=True)  # a password alone: the admin says what it needs
    assert refused.status_code == 403 and "otp add" in refused.content.decode()
    TOTPDevice.objects.create(user=op, confirmed=True)
    c = Client()
    asked = c.post("/console/login", {"username": op.username, "password": "operator-pw-1"})
    assert asked.status_code == 200 and 'name="otp_token"' in asked.content.decode()
    wrong = c.post("/console/login", {"otp_token": "000000"})
    assert "验证码不对" in wrong.content.decode() and c.get("/console").status_code == 302
    assert admin_client(op).get("/admin/").status_code == 200
    # a grid worker with a password and a code is still not the admin's user
    gw = world.sides["kz"].users["grid-worker"]
    assert admin_client(gw, "grid-pw-123").get("/admin/", follow=True).status_code == 403


def test_otp_add_prints_the_authenticators_address(world: World, db: Any) -> None:
    out = _eg(db, "otp", "add", world.sides["kz"].users["platform-operator"].username)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1].startswith("otpauth://totp/")
