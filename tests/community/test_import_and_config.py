"""Importing the lists communities keep (every bad row named, nothing imported on a dry run or
when any row is bad), and configurations refused at start naming the field, exit 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from community_proc import community
from testutil import ROOT

HEADER = ("社区,街道,地址,楼栋,单元,门牌号,站点,网关,住户编号,姓名,性别,出生年份,病史,用药,过敏,钥匙保管人,网格员,"
          "联系人1姓名,联系人1电话,联系人1关系,联系人1同意,同意人,同意日期")
GOOD = [
    "kz,新华街道,幸福路 8 号,3,2,301,kz,gw7,r1,杜秀英,女,1941,高血压,阿司匹林,青霉素,王阿姨,,杜明,13900000000,子女,是,"
    "本人,2026/11/03",
    "kz,新华街道,幸福路 9 号,3,2,302,kz,gw8,r1,李建国,男,1939,,,,,,李红,13800000000,child,yes,,",
]
BAD = [
    ",新华街道,幸福路 10 号,3,2,303,kz,gw9,r1,王桂兰,女,1940,,,,,,,,,",  # no community
    "kz,新华街道,幸福路 11 号,3,2,304,kz,gw10,r1,赵大爷,男,19x0,,,,,,赵一,1390000abc,表哥,maybe,儿子,上周",
    "kz,新华街道,幸福路 8 号,3,2,301,kz,gw7,r1,杜秀英,女,1941,,,,,,,,,",  # the first row again
]


def _write(path: Path, rows: list[str], encoding: str = "utf-8") -> Path:
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding=encoding)
    return path


def test_a_dry_run_names_every_bad_row_and_imports_nothing(db: Any, tmp_path: Path) -> None:
    from eldergate.community.models import Resident
    from eldergate.community.work.importer import import_residents

    report = import_residents(_write(tmp_path / "list.csv", GOOD + BAD), dry_run=True)
    text = "\n".join(report.errors)
    assert "row 4: community is empty" in text
    assert "row 5: birth_year '19x0' is not a year" in text
    assert "row 5: contact1_phone '1390000abc' is not a phone number" in text
    assert "row 5: contact1_role '表哥'" in text and "row 5: contact1_consent must be yes or no" in text
    assert "row 5: consent_date '上周' is not a date" in text
    assert "row 6: resident kz/gw7/r1 appears twice in the file" in text
    assert not any(e.startswith(("row 2", "row 3")) for e in report.errors)
    assert not Resident.objects.exists()
    # not a dry run: still nothing, because a row is bad
    assert not import_residents(tmp_path / "list.csv", dry_run=False).ok
    assert not Resident.objects.exists()


def test_a_clean_list_imports_in_gbk_and_from_excel(db: Any, tmp_path: Path) -> None:
    from openpyxl import Workbook

    from eldergate.community.models import Contact, Home, Resident
    from eldergate.community.models.crypto import decrypt
    from eldergate.community.work.importer import import_residents

    assert import_residents(_write(tmp_path / "gbk.csv", GOOD[:1], "gb18030"), dry_run=True).ok
    report = import_residents(tmp_path / "gbk.csv", dry_run=False)
    assert report.ok and report.created["residents"] == 1
    r = Resident.objects.get(resident_id="r1", home__gateways__gateway="gw7")
    assert r.name == "杜秀英" and r.birth_year == 1941 and decrypt(r.allergies) == "青霉素"
    assert Contact.objects.get(resident=r).role == "child" and r.contacts.get().consent_to_call
    consent = r.consents.get()  # the consent to monitoring, as the list recorded it
    assert consent.scope == "monitoring" and consent.given_by == "本人"
    assert f"{consent.given_at.astimezone(ZoneInfo('Asia/Shanghai')):%m-%d}" == "11-03"
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for line in [HEADER, GOOD[1]]:
        ws.append(line.split(","))
    wb.save(tmp_path / "list.xlsx")
    assert import_residents(tmp_path / "list.xlsx", dry_run=False).created["residents"] == 1
    assert Home.objects.count() == 2
    assert import_residents(tmp_path / "list.xlsx", dry_run=False).errors == [
        "row 2: resident kz/gw8/r1 is already registered"]


@pytest.mark.parametrize(("text", "field"), [
    ('[server]\ntime_zone = "Asia/Shangai"\n', "server.time_zone"),
    ('[server]\nlisten = "8000"\n', "server.listen"),
    ('[server]\ndatabase = "mysql://x"\n', "server.database"),
    ('[broker]\nurl = "mqtt://host:88a3"\n', "broker.url"),
    ('[broker]\nfallback_urls = ["tcp://node2:1883"]\n', "broker.fallback_urls"),
    ('[broker]\nnats_urls = ["http://node1:4222"]\n', "broker.nats_urls"),
    ('[broker]\nnats_urls = ["nats://node1:4222"]\n', "protocol = \"v311\""),  # NATS speaks MQTT 3.1.1 only
    ('[escalation.ladders]\nurgent = []\n', "escalation.ladders"),
    ('[escalation]\nnight = "22-7"\n', "escalation.night"),
    ('[retention]\naudit = 30\n', "retention.audit"),
    ('[server]\ndata_key_file = "missing.key"\n', "server.data_key_file"),
    ('[sever]\nlisten = "1"\n', "sever"),
])
def test_a_bad_configuration_is_refused_naming_the_field(tmp_path: Path, text: str, field: str) -> None:
    cfg = tmp_path / "community.toml"
    cfg.write_text(text)
    for cmd in (["check-config", str(cfg)], ["serve", "--config", str(cfg)]):
        r = community(*cmd, cwd=tmp_path)
        assert r.returncode == 2, r.stderr
        assert field in r.stderr and "Traceback" not in r.stderr


def test_flags_are_checked_like_the_file(tmp_path: Path) -> None:
    r = community("serve", "--listen", "nowhere", cwd=tmp_path)
    assert r.returncode == 2 and "server.listen" in r.stderr
    r = community("serve", "--db", "postgresql://nobody@127.0.0.1:1/none", "--listen", "127.0.0.1:0", cwd=tmp_path)
    assert r.returncode == 2 and "server.database: cannot use" in r.stderr and "Traceback" not in r.stderr


def test_create_user_prints_the_token_last_and_starts_a_missing_community(tmp_path: Path) -> None:
    assert community("init", str(tmp_path), "--community", "kz", cwd=tmp_path).returncode == 0
    r = community("create-user", "li", "--role", "grid-worker", "--community", "kz", "--token", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.strip().splitlines()[-1].startswith("eg_")
    r = community("create-user", "wang", "--role", "grid-worker", "--community", "newsite", cwd=tmp_path)
    assert r.returncode == 0 and "community newsite did not exist: created it" in r.stdout
    r = community("create-user", "zhao", "--role", "street-admin", "--street", "nowhere", cwd=tmp_path)
    assert r.returncode == 2 and "--street" in r.stderr


def test_the_checked_in_openapi_document_is_the_servers(tmp_path: Path) -> None:
    r = community("openapi", cwd=tmp_path)
    assert r.returncode == 0
    served = json.loads(r.stdout)
    assert "/api/v1/alerts" in served["paths"] and "/api/v1/health" in served["paths"]
    checked_in = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert served == checked_in, "docs/openapi.json is stale: eldergate community openapi --out docs/openapi.json"


def test_the_migrations_match_the_models() -> None:
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "eldergate.community.tools.makemigrations", "--check", "--dry-run"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_a_role_is_taken_as_the_box_writes_it_too(tmp_path: Path) -> None:
    """One vocabulary (#36): the box's TOML names a contact's role grid_worker; the server's CLI
    takes that spelling as its own grid-worker, and still refuses a role it does not know."""
    assert community("init", str(tmp_path / "s"), "--community", "s1", cwd=tmp_path).returncode == 0
    cfg = ("--config", str(tmp_path / "s" / "community.toml"))
    made = community("create-user", "li", "--role", "grid_worker", "--community", "s1", *cfg, cwd=tmp_path)
    assert made.returncode == 0 and "(grid-worker)" in made.stdout, made.stderr
    assert community("create-user", "x", "--role", "grid_boss", *cfg, cwd=tmp_path).returncode == 2
