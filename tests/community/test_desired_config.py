"""The desired configuration on the server (work/desired_config.py), in process: what a box is
sent (ids, roles, phones and push addresses, never a name), who may change it and how a change is
bounded, and that the publisher sends each box its home's version once, retained."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from community_world import Receipts, World, api

URL = "http://127.0.0.1:8000"  # the server's public address, for the upload addresses it sends


def _resident_pk(world: World, code: str = "kz") -> int:
    return int(world.sides[code].resident.pk)


def test_a_box_is_sent_its_home_and_nothing_else(world: World) -> None:
    from eldergate.community.models import Contact
    from eldergate.community.work import desired_config

    kz = world.sides["kz"]
    Contact.objects.create(resident=kz.resident, order=2, name="邻居王阿姨", phone="13700000000", role="neighbour")
    kz.home.config_version = 3
    doc = desired_config.document(kz.home, kz.gateway)
    text = doc.model_dump_json()
    assert (doc.site, doc.gateway, doc.version) == ("kz", "gw1", 3)
    [r] = doc.residents
    assert r.id == "r1" and r.birth_year == 1941 and r.at_risk_of_getting_lost is False
    assert r.contacts is not None
    assert [(c.order, c.role, c.phone) for c in r.contacts] == [(1, "relative", "13900000000")]
    for private in ("杜秀英", "杜明", "王阿姨", "高血压", "阿司匹林"):  # names and medical notes stay on the server
        assert private not in text


def test_grid_worker_changes_night_hours_and_contacts_and_the_version_rises(world: World) -> None:
    from eldergate.community.models import AuditEntry, Resident

    kz = world.sides["kz"]
    pk = _resident_pk(world)
    code, body = api(kz.tokens["grid-worker"], "PATCH", f"/residents/{pk}", {"night_start": "23:30"})
    assert code == 200 and body["config_desired_version"] == 1 and body["thresholds"] == {"night_start": "23:30:00"}
    code, body = api(kz.tokens["grid-worker"], "PATCH", f"/residents/{pk}",
                     {"thresholds": {"out_of_bed_at_night": 1200}, "contacts": [
                         {"order": 1, "name": "杜明", "phone": "13900000009", "role": "child",
                          "notify_url": "ntfy://ntfy.sh/du"}]})
    assert code == 200 and body["config_desired_version"] == 2
    assert body["thresholds"] == {"night_start": "23:30:00", "out_of_bed_at_night": 1200.0}  # merged
    assert [c["phone"] for c in body["contacts"]] == ["13900000009"]
    assert Resident.objects.get(pk=pk).contacts.count() == 1
    assert AuditEntry.objects.filter(action="config_changed").count() == 2
    code, body = api(kz.tokens["grid-worker"], "PATCH", f"/residents/{pk}", {})
    assert code == 200 and body["config_desired_version"] == 2  # nothing changed: no new version


def test_changes_are_bounded_and_scoped(world: World) -> None:
    kz, other = world.sides["kz"], world.sides["other"]
    pk = _resident_pk(world)
    for bad in ({"night_start": "25:00"}, {"thresholds": {"heart_rate_min_bpm": 0}},
                {"thresholds": {"unknown": 1}}, {"thresholds": {"long_lie_after": 1e308}},
                {"contacts": [{"order": 1, "name": "x", "role": "boss"}]},
                {"contacts": [{"order": 1, "name": "x", "role": "child", "notify_url": "javascript:alert(1)"}]},
                {"contacts": [{"order": 1, "name": "x", "role": "child"}] * 11}):
        code, _ = api(kz.tokens["grid-worker"], "PATCH", f"/residents/{pk}", bad)
        assert code in (400, 422), bad
    for role in ("volunteer", "relative", "installer", "street-admin"):
        code, _ = api(kz.tokens[role], "PATCH", f"/residents/{pk}", {"night_start": "20:00"})
        assert code in (403, 404), role
    code, _ = api(other.tokens["grid-worker"], "PATCH", f"/residents/{pk}", {"night_start": "20:00"})
    assert code == 404  # another community's resident does not exist for them
    _, body = api(kz.tokens["community-admin"], "GET", f"/residents/{pk}")
    assert body["config_desired_version"] == 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(["night_start", "night_end", "thresholds", "contacts", "x"]),
                       st.one_of(st.none(), st.integers(), st.floats(), st.text(max_size=30),
                                 st.lists(st.integers(), max_size=3),
                                 st.dictionaries(st.text(max_size=20), st.one_of(st.integers(), st.text(max_size=8)),
                                                 max_size=3)), max_size=4))
def test_any_body_is_a_clear_answer_never_a_crash(world: World, body: dict[str, Any]) -> None:
    kz = world.sides["kz"]
    code, _ = api(kz.tokens["grid-worker"], "PATCH", f"/residents/{_resident_pk(world)}", body)
    assert code in (200, 400, 422), (code, body)


def test_the_publisher_sends_each_box_its_home_once_retained(world: World) -> None:
    from eldergate.community.models import Gateway
    from eldergate.community.work import desired_config

    kz = world.sides["kz"]
    sent = Receipts()
    retained: list[bool] = []
    publish = sent.publish

    def keep(topic: str, payload: str, qos: int = 1, retain: bool = False) -> bool:
        retained.append(retain)
        return publish(topic, payload, qos, retain)
    sent.publish = keep  # type: ignore[method-assign]
    assert desired_config.publish_due(sent, "eldergate/v1") == 0  # nothing changed yet: nothing sent
    api(kz.tokens["grid-worker"], "PATCH", f"/residents/{_resident_pk(world)}", {"night_end": "07:00"})
    assert desired_config.publish_due(sent, "eldergate/v1") == 1
    assert desired_config.publish_due(sent, "eldergate/v1") == 0  # once
    [(topic, doc)] = sent.sent
    assert topic == "eldergate/v1/kz/gw1/config" and retained == [True]
    assert doc["version"] == 1 and doc["residents"][0]["thresholds"] == {"night_end": "07:00:00"}
    assert Gateway.objects.get(pk=kz.gateway.pk).config_sent_version == 1


def test_the_console_changes_night_hours_and_shows_each_box_in_step_or_not(world: World) -> None:
    from django.test import Client

    from eldergate.community.models import Gateway, Resident

    kz = world.sides["kz"]
    pk = _resident_pk(world)
    c = Client()
    c.force_login(kz.users["grid-worker"])
    assert c.post(f"/console/residents/{pk}/settings", {"night_start": "21:45"}).status_code == 302
    assert Resident.objects.get(pk=pk).thresholds == {"night_start": "21:45:00"}
    assert c.post(f"/console/residents/{pk}/settings", {"night_start": "9pm"}).status_code == 400
    page = c.get(f"/console/residents/{pk}").content.decode()
    assert 'data-applied="0" data-wanted="1"' in page and "待设备确认" in page
    Gateway.objects.filter(pk=kz.gateway.pk).update(config_refused_version=1, config_refused=(
        "residents[0].thresholds: night_start must be a time"))
    assert "设备拒绝：residents[0].thresholds" in c.get(f"/console/residents/{pk}").content.decode()
    Gateway.objects.filter(pk=kz.gateway.pk).update(config_applied_version=1, config_refused_version=0)
    assert "已生效" in c.get(f"/console/residents/{pk}").content.decode()
    v = Client()
    v.force_login(kz.users["volunteer"])
    assert v.post(f"/console/residents/{pk}/settings", {"night_start": "20:00"}).status_code == 404
    assert "box-settings" not in v.get(f"/console/residents/{pk}").content.decode()
    assert json.dumps(Resident.objects.get(pk=pk).thresholds) == '{"night_start": "21:45:00"}'


def test_commands_go_in_order_come_again_unanswered_and_are_answered_by_their_effect(world: World) -> None:
    from datetime import UTC, datetime, timedelta

    from eldergate.community.models import AuditEntry, BoxCommand, Gateway
    from eldergate.community.work import box_commands

    kz = world.sides["kz"]
    gid = kz.gateway.pk
    code, made = api(kz.tokens["community-admin"], "POST", f"/gateways/{gid}/commands", {"command": "test_alert"})
    assert code == 202 and made["ok"] is None
    api(kz.tokens["community-admin"], "POST", f"/gateways/{gid}/commands", {"command": "restart"})
    for role in ("grid-worker", "volunteer", "installer", "relative"):
        code, _ = api(kz.tokens[role], "POST", f"/gateways/{gid}/commands", {"command": "restart"})
        assert code in (403, 404), role
    code, _ = api(world.sides["other"].tokens["community-admin"], "POST", f"/gateways/{gid}/commands",
                  {"command": "restart"})
    assert code == 404  # another community's box
    code, _ = api(kz.tokens["community-admin"], "POST", f"/gateways/{gid}/commands", {"command": "rm -rf"})
    assert code in (400, 422)
    assert AuditEntry.objects.filter(action="box_command").count() == 2

    t0 = datetime.now(UTC)
    sent = Receipts()
    assert box_commands.send_due(sent, "eldergate/v1", t0, URL) == 2
    assert [p["command"] for _t, p in sent.sent] == ["test_alert", "restart"]  # as they were asked
    assert box_commands.send_due(sent, "eldergate/v1", t0 + timedelta(seconds=5), URL) == 0
    assert box_commands.settle(t0 + timedelta(seconds=5)) == 0  # nothing happened at the box yet
    Gateway.objects.filter(pk=gid).update(last_test_ok=t0 + timedelta(seconds=6))
    assert box_commands.settle(t0 + timedelta(seconds=7)) == 1
    assert box_commands.send_due(sent, "eldergate/v1", t0 + timedelta(seconds=40), URL) == 1  # the restart, again
    assert sent.sent[-1][1]["command"] == "restart"
    assert box_commands.settle(t0 + timedelta(minutes=11)) == 1  # never restarted: "no answer"
    results = {c.command: (c.ok, c.result) for c in BoxCommand.objects.all()}
    assert results["test_alert"][0] is True and "test alert stored" in results["test_alert"][1]
    assert results["restart"] == (False, "no answer")
    code, listed = api(kz.tokens["grid-worker"], "GET", f"/gateways/{gid}/commands")
    assert code == 200 and [c["command"] for c in listed] == ["restart", "test_alert"]


def test_config_resend_raises_every_home_with_a_box_once_and_the_publisher_sends_all(world: World, db: Any) -> None:
    from eldergate.community.clock import now
    from eldergate.community.models import AuditEntry, Home
    from eldergate.community.work import desired_config

    Home.objects.create(community=world.sides["kz"].community, address="无设备的家")  # no box: nothing to send
    n = desired_config.resend(Home.objects.filter(community__code="kz"), now(), "cli", "new night hours")
    assert n == 1 and AuditEntry.objects.filter(action="config_resent").count() == 1
    sent = Receipts()
    assert desired_config.publish_due(sent, "eldergate/v1") == 1
    assert [t for t, _p in sent.sent] == ["eldergate/v1/kz/gw1/config"]  # the other community's box: nothing
    assert desired_config.resend(Home.objects.all(), now(), "cli", "") == 2
    assert desired_config.publish_due(sent, "eldergate/v1") == 2


def test_a_row_the_contract_cannot_carry_is_left_out_not_the_whole_document(world: World) -> None:
    from eldergate.community.models import Contact, Resident
    from eldergate.community.work import desired_config

    kz = world.sides["kz"]
    Contact.objects.create(resident=kz.resident, order=2, name="x", role="child", notify_url="not a url at all")
    Resident.objects.create(home=kz.home, resident_id="id with spaces", name="某", birth_year=1940)
    kz.home.config_version = 1
    doc = desired_config.document(kz.home, kz.gateway)
    assert [r.id for r in doc.residents] == ["r1"]
    assert doc.residents[0].contacts is not None and [c.order for c in doc.residents[0].contacts] == [1]
