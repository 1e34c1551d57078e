"""Finding a lost elder on the community side (#35): the badge command and the finder's page
(no personal data, one tap raises `found_by_passerby` with the finder's location and number,
audited, rate-limited, a revoked code shows the hotline only), positions forwarded by a Traccar
server shown on the alert and pruned after it, "外出" on the wall and the relatives' page, and the
outdoor temperature sent to the homes. The browser test of a scan on a phone is in test_screens.py."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import timedelta
from typing import Any

from community_world import World, api
from testutil import clean_env, eldergate_cmd

FINDER_FORBIDDEN = ("杜秀英", "杜", "幸福路", "301", "高血压", "阿司匹林", "13900000000")


def _eg(cfg: Any, *args: str) -> subprocess.CompletedProcess[str]:
    conf = cfg.server.data_dir / "lost-test.toml"
    conf.write_text(f'[server]\ndatabase = "{cfg.server.database}"\npublic_url = "https://eg.example"\n',
                    encoding="utf-8")
    return subprocess.run(eldergate_cmd("community", *args, "--config", str(conf)), capture_output=True, text=True,
                          env=clean_env(), timeout=120)


def _text(html: str) -> str:
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", body)


def test_the_badge_command_prints_the_finders_url_and_a_scan_raises_the_alert(world: World, db: Any) -> None:
    from django.test import Client

    from eldergate.community.models import Alert, AuditEntry, Comment

    side = world.sides["kz"]
    side.community.hotline = "0571-88880000"
    side.community.save()
    out = _eg(db, "badge", str(side.resident.pk))
    assert out.returncode == 0, out.stderr
    url = out.stdout.strip().splitlines()[-1]
    assert url.startswith("https://eg.example/f/"), url
    path = url.removeprefix("https://eg.example")
    c = Client(REMOTE_ADDR="198.51.100.7")
    page = c.get(path)
    assert page.status_code == 200
    text = _text(page.content.decode())
    assert not [w for w in FINDER_FORBIDDEN if w in text], "the finder's page shows nothing of the elder"
    assert "0571-88880000" in text and 'id="notify"' in page.content.decode()
    r = c.post(path, {"lat": "30.27415", "lon": "120.15515", "accuracy": "12", "phone": "138 0013 8000"})
    assert r.status_code == 200 and 'id="sent"' in r.content.decode()
    a = Alert.objects.get(kind="found_by_passerby")
    assert a.resident_id == side.resident.pk and a.community_id == side.community.pk and a.severity == "critical"
    assert a.evidence["latitude"] == 30.27415 and a.evidence["finder_phone"] == "13800138000"
    assert AuditEntry.objects.filter(action="badge_found").count() == 1
    # a second tap adds to the open alert; the grid worker's page shows where and whom to call back
    c.post(path, {"lat": "30.27420", "lon": "120.15520"})
    assert Alert.objects.filter(kind="found_by_passerby").count() == 1
    assert Comment.objects.filter(alert=a).count() == 1
    gw = Client()
    gw.force_login(side.users["grid-worker"])
    shown = gw.get(f"/console/alerts/{a.ref}").content.decode()
    assert 'href="geo:30.27415,120.15515"' in shown and 'href="tel:13800138000"' in shown
    assert "路人扫防走失码发现" in shown and "拨打 110" not in shown
    # forty more taps: five in ten minutes are taken, the rest only audited
    for _ in range(40):
        c.post(path, {})
    assert AuditEntry.objects.filter(action="badge_found").count() == 5
    assert AuditEntry.objects.filter(action="badge_scan_limited").exists()


def test_a_revoked_code_shows_the_hotline_only(world: World, db: Any) -> None:
    from django.test import Client

    from eldergate.community.models import Alert

    side = world.sides["kz"]
    side.community.hotline = "0571-88880000"
    side.community.save()
    first = _eg(db, "badge", str(side.resident.pk)).stdout.strip().splitlines()[-1].removeprefix("https://eg.example")
    second = _eg(db, "badge", str(side.resident.pk)).stdout.strip().splitlines()[-1]  # a reissue revokes the first
    assert second.removeprefix("https://eg.example") != first
    c = Client()
    page = c.get(first)
    html = page.content.decode()
    assert page.status_code == 404 and 'id="hotline-only"' in html and 'id="notify"' not in html
    assert "0571-88880000" in html
    assert c.post(first, {}).status_code == 404 and not Alert.objects.filter(kind="found_by_passerby").exists()
    assert _eg(db, "badge", str(side.resident.pk), "--revoke").returncode == 0
    assert c.get(second.removeprefix("https://eg.example")).status_code == 404


def _traccar(unique: str, lat: float, lon: float, fix: str) -> dict[str, Any]:
    """What Traccar's position forwarding posts (forward.type = json): a position and its device."""
    return {"position": {"id": 1, "deviceId": 7, "protocol": "osmand", "fixTime": fix, "deviceTime": fix,
                         "serverTime": fix, "valid": True, "latitude": lat, "longitude": lon, "altitude": 10.0,
                         "speed": 0.0, "course": 0.0, "accuracy": 15.0, "attributes": {"batteryLevel": 80}},
            "device": {"id": 7, "name": "母亲的定位器", "uniqueId": unique, "status": "online"}}


def test_positions_from_a_traccar_server_show_on_the_not_back_alert_and_go_after(world: World, db: Any) -> None:
    from django.test import Client

    from eldergate.community.clock import now
    from eldergate.community.models import Alert, AuditEntry, Event, Position
    from eldergate.community.work import lost

    side = world.sides["kz"]
    assert _eg(db, "locator", str(side.resident.pk), "868618052108909").returncode == 0
    r = side.resident
    r.appearance, r.calming = "1米55，白发，常穿蓝色棉袄，拄拐", "说杭州话，提起孙子就安心"
    r.save()
    at = now()
    token = side.tokens["community-admin"]
    for k, (lat, lon) in enumerate([(30.2741, 120.1551), (30.2752, 120.1560), (30.2763, 120.1572)]):
        fix = (at - timedelta(minutes=20 - 5 * k)).isoformat().replace("+00:00", "Z")
        status, body = api(token, "POST", "/positions/traccar", _traccar("868618052108909", lat, lon, fix))
        assert status == 200, body
    assert api(token, "POST", "/positions/traccar", _traccar("unknown-device", 1, 2, at.isoformat()))[0] == 202
    other = world.sides["other"].tokens["community-admin"]
    assert api(other, "POST", "/positions/traccar", _traccar("868618052108909", 1, 2, at.isoformat()))[0] == 403
    assert api(token, "POST", "/positions/traccar", {"position": "x"})[0] == 400
    assert api(side.tokens["grid-worker"], "POST", "/positions/traccar",
               _traccar("868618052108909", 1, 2, at.isoformat()))[0] == 403
    Event.objects.create(gateway=side.gateway, resident_key="r1", name="went_out", t=at - timedelta(minutes=95))
    a = Alert.objects.create(alert_id="nb1", gateway=side.gateway, community=side.community, resident=r,
                             resident_key="r1", kind="not_back", severity="critical", state="received",
                             raised_at=at - timedelta(minutes=5), received_at=at, group_key="kz/gw1/r1/not_back",
                             evidence={"out_min": 90, "usual_min": 45, "why": "cold", "outdoor_c": -2})
    c = Client()
    c.force_login(side.users["grid-worker"])
    page = c.get(f"/console/alerts/{a.ref}").content.decode()
    assert 'id="positions"' in page and "30.27630" in page and "拄拐" in page and "孙子" in page
    assert "外出 90 分钟未归" in page and "天冷" in page
    assert AuditEntry.objects.filter(action="lost_profile_read", object_id=str(r.pk)).exists()
    # while the alert is open the search keeps its positions; resolved, they go within the hour's round
    assert lost.prune(at + timedelta(hours=2)) == 0
    a.resolved_at, a.state = at, "resolved"
    a.save()
    assert lost.prune(at + timedelta(hours=2)) == 3 and not Position.objects.exists()


def test_out_on_the_wall_and_on_the_relatives_page(world: World) -> None:
    from django.test import Client

    from eldergate.community.clock import now
    from eldergate.community.models import Alert, Event

    side = world.sides["kz"]
    at = now()
    Event.objects.create(gateway=side.gateway, resident_key="r1", name="went_out", t=at - timedelta(minutes=80))
    wall = Client().get(f"/wall?key={side.community.wall_key}").content.decode()
    assert "外出 1 小时 20 分钟" in wall
    rel = Client()
    rel.force_login(side.users["relative"])
    assert "外出 1 小时 20 分钟" in rel.get("/family").content.decode()
    Alert.objects.create(alert_id="nb2", gateway=side.gateway, community=side.community, resident=side.resident,
                         resident_key="r1", kind="not_back", severity="warning", state="received", raised_at=at,
                         received_at=at, group_key="kz/gw1/r1/not_back")
    assert "已通知网格员" in rel.get("/family").content.decode()


def test_the_outdoor_temperature_reaches_the_homes(world: World, db: Any) -> None:
    from eldergate.community.clock import now
    from eldergate.community.work import lost

    out = _eg(db, "weather", "--temperature", "-4", "--community", "kz")
    assert out.returncode == 0, out.stderr
    sent: list[tuple[str, str]] = []

    class Pub:
        def publish(self, topic: str, payload: str, qos: int = 1) -> None:
            sent.append((topic, payload))

    assert lost.send_outdoor_temperatures(now(), db, Pub()) == 1
    assert sent[0][0].endswith("/kz/gw1/cmd") and json.loads(sent[0][1])["temperature_c"] == -4
    assert lost.send_outdoor_temperatures(now() + timedelta(minutes=1), db, Pub()) == 0  # sent already
    assert _eg(db, "weather", "--temperature", "999").returncode == 2
