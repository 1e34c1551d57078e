"""Two communities with a home, a gateway, a resident and a user of every role each: what the
tenancy, workflow and timer tests act on."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import Any

ROLES = ("platform-operator", "street-admin", "community-admin", "grid-worker", "volunteer", "relative", "installer")


@dataclass
class Side:
    code: str
    community: Any
    home: Any
    gateway: Any
    resident: Any
    tokens: dict[str, str] = field(default_factory=dict)
    users: dict[str, Any] = field(default_factory=dict)


@dataclass
class World:
    sides: dict[str, Side]
    operator_token: str

    @classmethod
    def build(cls) -> World:
        from django.contrib.auth import get_user_model

        from eldergate.community.models import (
            Community,
            Contact,
            DutyShift,
            Gateway,
            Home,
            Resident,
            Street,
        )
        from eldergate.community.tools.users import create_user

        sides = {}
        for code, street_name in (("kz", "新华街道"), ("other", "东风街道")):
            street = Street.objects.create(name=street_name)
            c = Community.objects.create(code=code, name=f"{code} 社区", street=street)
            h = Home.objects.create(community=c, address="幸福路 8 号", building="3", unit="2", house_number="301",
                                    keyholder="邻居 王阿姨 13800000000", key_safe="门口左侧 密码 4711")
            g = Gateway.objects.create(site=code, gateway="gw1", home=h, status="online",
                                       last_seen=datetime(2026, 11, 29, 2, 0, tzinfo=UTC),
                                       last_test_sent=datetime(2026, 11, 29, tzinfo=UTC))
            r = Resident.objects.create(home=h, resident_id="r1", name="杜秀英", surname="杜", birth_year=1941,
                                        medical_history="高血压, 2019 年脑梗", medications="阿司匹林",
                                        allergies="青霉素")
            Contact.objects.create(resident=r, order=1, name="杜明", phone="13900000000", role="child",
                                   consent_to_call=True, notify_url=f"json://127.0.0.1:9/{code}-son")
            side = Side(code, c, h, g, r)
            for role in ROLES:
                name = f"{code}-{role}"
                side.tokens[role] = create_user(
                    name, role, community=code if role not in ("platform-operator", "street-admin", "relative")
                    else None, street=street_name, resident=r.pk, notify_url=f"json://127.0.0.1:9/{name}",
                    token=True) or ""
                side.users[role] = get_user_model().objects.get(username=name)
            r.grid_worker = side.users["grid-worker"]
            r.save()
            DutyShift.objects.create(community=c, user=side.users["volunteer"], start=time(22), end=time(7))
            DutyShift.objects.create(community=c, user=side.users["community-admin"], start=time(7), end=time(22))
            sides[code] = side
        return cls(sides, sides["kz"].tokens["platform-operator"])


def alert_payload(site: str, gateway: str, alert_id: str, state: str = "raised", kind: str = "fall",
                  severity: str = "critical", t: float = 1_795_000_000.0, resident: str = "r1",
                  **extra: Any) -> bytes:
    body = {"v": 1, "site": site, "gateway": gateway, "sent_at": t, "id": alert_id, "kind": kind,
            "severity": severity, "state": state, "resident": resident, "room": "bedroom", "sensor": "fall1",
            "started": t, "raised_at": t, "title_zh": "跌倒", "title_en": "fall", "evidence": {"down_s": 240},
            **extra}
    if state == "resolved":
        body.setdefault("resolved_at", t + 60)
    return json.dumps(body).encode()


def api(token: str, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    from django.test import Client

    c = Client()
    kwargs: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    if body is not None:
        kwargs |= {"data": json.dumps(body), "content_type": "application/json"}
    r = getattr(c, method.lower())(f"/api/v1{path}", **kwargs)
    try:
        return r.status_code, r.json()
    except ValueError:
        return r.status_code, None


def admin_client(user: Any, password: str = "operator-pw-1") -> Any:
    """A browser session as the admin requires it: the password, then the authenticator's code."""
    from django.test import Client
    from django_otp.oath import TOTP
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user.set_password(password)
    user.save()
    device = TOTPDevice.objects.filter(user=user).first() or TOTPDevice.objects.create(user=user, confirmed=True)
    # a test may just have tried a wrong code (throttled) or used this window's code (no replays)
    device.throttling_failure_count, device.last_t = 0, -1
    device.save()
    c = Client()
    first = c.post("/console/login", {"username": user.username, "password": password, "next": "/admin/"})
    assert first.status_code == 200 and 'name="otp_token"' in first.content.decode()
    code = f"{TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).token():06d}"
    assert c.post("/console/login", {"otp_token": code, "next": "/admin/"}).status_code == 302
    return c


NOW_T = 1_795_000_000.0  # 2026-11-18 23:33:20 UTC: the stores' clock below is a minute later


class Receipts:
    """A publisher that keeps what the server sent (topic, payload): the receipts a box would get."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def publish(self, topic: str, payload: str, qos: int = 1, retain: bool = False) -> bool:
        self.sent.append((topic, json.loads(payload)))
        return True

    def receipted(self, site: str, gateway: str, alert_id: str) -> bool:
        return any(t.endswith(f"/{site}/{gateway}/ack") and p.get("alert_id") == alert_id and p["kind"] == "received"
                   for t, p in self.sent)


def batch_store(db: Any, receipts: Receipts | None = None) -> Any:
    from eldergate.community.clock import ManualClock
    from eldergate.community.ingest.batches import BatchStore

    clock = ManualClock()
    clock.t = clock.t.replace(year=2026, month=11, day=18, hour=23, minute=35)  # a minute after NOW_T
    return BatchStore(db, clock, receipts or Receipts())


def incoming(leaf: str, site: str, gw: str, payload: bytes) -> Any:
    from eldergate.community.ingest.store import Incoming

    return Incoming(leaf, site, gw, payload)
