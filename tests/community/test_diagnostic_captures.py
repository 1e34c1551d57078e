"""A box's diagnostic capture on the server (work/diagnostic_captures.py), in process: raw waveforms
are asked for only with every resident's recorded consent, given and withdrawn through the API
and audited; the one-time upload address takes one capture of its own command, bounded, checked
to be capture lines, and refuses everything else with a clear status; the capture is kept
encrypted, read back by community admins only (every read audited) and gone after a week."""

from __future__ import annotations

import gzip
import json
import string
from datetime import timedelta
from typing import Any

from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from community_world import World, api


def _capture(raw: bool = False, lines: int = 20) -> bytes:
    meta = {"meta": {"version": 1, "t0": 1765000000.0, "raw_waveforms": raw, "withheld_frames": 0}}
    body = [json.dumps(meta)] + [json.dumps({"t": i * 0.5, "sensor": "bed_radar", "hex": "0102"}) for i in range(lines)]
    return gzip.compress(("\n".join(body) + "\n").encode())


def _ask(world: World, body: dict[str, Any], role: str = "community-admin") -> tuple[int, Any]:
    side = world.sides["kz"]
    return api(side.tokens[role], "POST", f"/gateways/{side.gateway.pk}/commands", {"command": "diagnostics", **body})


def _upload_url(cmd_id: int) -> str:
    from eldergate.community.models import BoxCommand
    from eldergate.community.work import box_commands

    msg = box_commands.message(BoxCommand.objects.get(pk=cmd_id), "http://testserver")
    assert msg.upload_url is not None
    return msg.upload_url.removeprefix("http://testserver")


def _post(path: str, body: bytes) -> tuple[int, dict[str, Any]]:
    r = Client().post(path, data=body, content_type="application/gzip", HTTP_X_CAPTURE_SPAN_S="600")
    return r.status_code, r.json()


def test_raw_waveforms_need_every_residents_recorded_consent(world: World) -> None:
    from eldergate.community.models import AuditEntry, BoxCommand

    side = world.sides["kz"]
    admin = side.tokens["community-admin"]
    code, body = _ask(world, {"raw_waveforms": True})
    assert code == 403 and "recorded consent (raw_waveforms)" in body["detail"]
    assert f"resident {side.resident.pk}" in body["detail"] and "杜秀英" not in body["detail"]
    assert not BoxCommand.objects.exists() and AuditEntry.objects.filter(action="raw_waveforms_refused").count() == 1

    code, _ = api(side.tokens["grid-worker"], "POST", f"/residents/{side.resident.pk}/consents",
                  {"scope": "raw_waveforms", "given_by": "本人"})
    assert code == 403  # recorded by a community admin
    code, given = api(admin, "POST", f"/residents/{side.resident.pk}/consents",
                      {"scope": "raw_waveforms", "given_by": "本人"})
    assert code == 201 and given["scope"] == "raw_waveforms" and given["withdrawn_at"] is None
    code, cmd = _ask(world, {"raw_waveforms": True})
    assert code == 202 and cmd["capture"] == "raw_waveforms"
    from eldergate.community.work import box_commands

    msg = box_commands.message(BoxCommand.objects.get(pk=cmd["id"]), "http://127.0.0.1:8000")
    assert msg.raw_waveforms is True and msg.upload_url and msg.upload_url.startswith("http://127.0.0.1:8000/captures/")

    code, after = api(admin, "DELETE", f"/residents/{side.resident.pk}/consents/raw_waveforms")
    assert code == 200 and after[0]["withdrawn_at"] is not None
    assert _ask(world, {"raw_waveforms": True})[0] == 403  # withdrawn: refused again
    assert _ask(world, {"capture": True})[0] == 202  # without them: no consent needed
    assert api(admin, "POST", f"/gateways/{side.gateway.pk}/commands", {"command": "status", "capture": True}
               )[0] == 422
    assert _ask(world, {"capture": True}, role="grid-worker")[0] == 403
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"consent_given", "consent_withdrawn", "box_command"} <= actions


def test_the_upload_address_takes_one_capture_of_its_own_command(world: World) -> None:
    from eldergate.community.models import AuditEntry, BoxCommand, DiagnosticCapture

    code, cmd = _ask(world, {"capture": True})
    assert code == 202
    url = _upload_url(cmd["id"])
    assert _post(url[:-4] + "0000", _capture())[0] == 404  # a guessed token
    assert _post(url.replace(f"/{cmd['id']}/", f"/{cmd['id'] + 1}/"), _capture())[0] == 404  # another command
    assert _post(url, b"not gzip")[0] == 400
    assert _post(url, gzip.compress(b"no meta line\n"))[0] == 400
    assert _post(url, gzip.compress(b'{"meta": {}}\n{"sensor": "x"}\n'))[0] == 400  # a line without its time
    assert _post(url, _capture(raw=True))[0] == 422  # waveforms not asked for: not kept
    bomb = gzip.compress(b'{"meta": {}}\n' + (b'{"t": 1, "hex": "' + b"0" * 100_000 + b'"}\n') * 1400)
    assert len(bomb) < 1 << 20 and _post(url, bomb)[0] == 413
    assert Client().get(url).status_code == 405
    assert not DiagnosticCapture.objects.exists()

    code, got = _post(url, _capture())
    assert code == 201 and got["raw_waveforms"] is False
    assert _post(url, _capture())[0] == 409  # one capture per command
    up = DiagnosticCapture.objects.get()
    assert up.span_s == 600 and bytes(up.sealed).startswith(b"gAAAA")  # a Fernet token: encrypted at rest
    assert AuditEntry.objects.filter(action="capture_received").count() == 1

    _, late = _ask(world, {"capture": True})
    BoxCommand.objects.filter(pk=late["id"]).update(created_at=up.received_at - timedelta(hours=1))
    assert _post(_upload_url(late["id"]), _capture())[0] == 410  # the address has expired


def test_community_admins_read_it_audited_and_it_is_gone_after_a_week(world: World) -> None:
    from eldergate.community.clock import now
    from eldergate.community.models import AuditEntry, DiagnosticCapture
    from eldergate.community.work import diagnostic_captures

    side, other = world.sides["kz"], world.sides["other"]
    _, cmd = _ask(world, {"capture": True})
    assert _post(_upload_url(cmd["id"]), _capture(lines=5))[0] == 201
    path = f"/api/v1/gateways/{side.gateway.pk}/commands/{cmd['id']}/capture"
    r = Client().get(path, HTTP_AUTHORIZATION=f"Bearer {side.tokens['community-admin']}")
    assert r.status_code == 200 and r["Content-Type"] == "application/gzip"
    assert gzip.decompress(r.content) == gzip.decompress(_capture(lines=5))
    assert AuditEntry.objects.filter(action="capture_read").count() == 1
    assert Client().get(path, HTTP_AUTHORIZATION=f"Bearer {side.tokens['grid-worker']}").status_code == 403
    assert Client().get(path, HTTP_AUTHORIZATION=f"Bearer {other.tokens['community-admin']}").status_code == 404
    _, listed = api(side.tokens["community-admin"], "GET", f"/gateways/{side.gateway.pk}/commands")
    assert listed[0]["capture_bytes"] == len(_capture(lines=5)) and listed[0]["capture_received_at"]

    assert diagnostic_captures.prune(now() + timedelta(days=6)) == 0
    assert diagnostic_captures.prune(now() + timedelta(days=8)) == 1 and not DiagnosticCapture.objects.exists()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=2048), token=st.text(string.ascii_letters + string.digits + "-_.", max_size=60),
       span=st.text(string.printable.strip(), max_size=20))
def test_any_upload_is_a_clear_answer_never_a_crash(world: World, body: bytes, token: str, span: str) -> None:
    code = Client().post(f"/captures/1/{token}", data=body, content_type="application/gzip",
                         HTTP_X_CAPTURE_SPAN_S=span).status_code
    assert code in (400, 404, 405)


def test_rotate_keys_re_encrypts_a_capture(world: World, monkeypatch: Any) -> None:
    from cryptography.fernet import Fernet
    from django.conf import settings

    from eldergate.community.models import DiagnosticCapture
    from eldergate.community.tools.rotate_keys import rotate_all
    from eldergate.community.work import diagnostic_captures

    _, cmd = _ask(world, {"capture": True})
    assert _post(_upload_url(cmd["id"]), _capture(lines=3))[0] == 201
    new = Fernet.generate_key().decode()
    monkeypatch.setattr(settings, "DATA_KEY", f"{new}\n{settings.DATA_KEY}")  # a new key first, the old one kept
    done, unreadable = rotate_all()
    assert unreadable == 0 and done >= 1
    monkeypatch.setattr(settings, "DATA_KEY", new)  # the old key removed: the capture still opens
    up = DiagnosticCapture.objects.select_related("command__gateway").get()
    assert diagnostic_captures.read(up, "test", up.received_at) == _capture(lines=3)
