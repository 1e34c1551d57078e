"""Import the resident lists communities already keep (Excel .xlsx or CSV, UTF-8 or GBK).

One row per resident. Columns (Chinese or English headers; see docs/community.md):
community, street, address, building, unit, house_number, site, gateway, resident_id, name,
sex, birth_year, medical_history, medications, allergies, keyholder, grid_worker, appearance, calming,
at_risk_of_getting_lost, and up to three
contacts: contact1_name, contact1_phone, contact1_role, contact1_consent (… contact3_*).

Every row is checked first; any bad row is reported by its number and what is wrong, and then
nothing is imported (a half-imported list is worse than none). A dry run only checks.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from eldergate.community.models import Community, Consent, Contact, Gateway, Home, Resident, Street
from eldergate.community.models.audit import record
from eldergate.community.work.consent import MONITORING

HEADERS = {  # Chinese headers as communities write them -> our column names
    "社区": "community", "街道": "street", "地址": "address", "楼栋": "building", "单元": "unit",
    "门牌号": "house_number", "站点": "site", "网关": "gateway", "住户编号": "resident_id", "姓名": "name",
    "性别": "sex", "出生年份": "birth_year", "病史": "medical_history", "用药": "medications", "过敏": "allergies",
    "钥匙保管人": "keyholder", "网格员": "grid_worker",
    "同意人": "consent_by", "同意日期": "consent_date",  # consent to monitoring (PIPL Art. 29)
    "外貌特征": "appearance", "安抚方式": "calming", "走失风险": "at_risk_of_getting_lost",  # finding them (#35)
}
for _i in (1, 2, 3):
    HEADERS |= {f"联系人{_i}姓名": f"contact{_i}_name", f"联系人{_i}电话": f"contact{_i}_phone",
                f"联系人{_i}关系": f"contact{_i}_role", f"联系人{_i}同意": f"contact{_i}_consent"}
REQUIRED = ("community", "address", "site", "gateway", "resident_id", "name")
ROLE_ZH = {"子女": "child", "邻居": "neighbour", "志愿者": "volunteer", "亲属": "relative", "网格员": "grid-worker",
           "医生": "doctor"}
YES = {"yes", "y", "true", "1", "是", "同意"}
NO = {"", "no", "n", "false", "0", "否", "不同意"}


@dataclass
class ImportReport:
    rows: int = 0
    errors: list[str] = field(default_factory=list)
    created: dict[str, int] = field(default_factory=dict)
    dry_run: bool = True

    @property
    def ok(self) -> bool:
        return not self.errors


def read_rows(path: Path) -> list[dict[str, str]]:
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        wb = load_workbook(path, read_only=True, data_only=True)
        try:
            ws = wb.active
            if ws is None:
                return []
            rows = [[("" if c is None else str(c)).strip() for c in r] for r in ws.iter_rows(values_only=True)]
        finally:
            wb.close()  # read-only workbooks keep the file open until closed
    else:
        raw = path.read_bytes()
        for enc in ("utf-8-sig", "gb18030"):
            try:
                text = raw.decode(enc)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise ValueError("neither UTF-8 nor GBK text")
        rows = [[c.strip() for c in r] for r in csv.reader(io.StringIO(text))]
    if not rows:
        return []
    head = [HEADERS.get(h, h.strip().lower()) for h in rows[0]]
    return [dict(zip(head, r, strict=False)) for r in rows[1:] if any(r)]


def _date(text: str) -> datetime | None:
    """A consent's date as spreadsheets write it (2026-11-03, 2026/11/03, or a cell's datetime)."""
    text = text.strip().replace("/", "-")[:10]
    try:
        return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(str(settings.TIME_ZONE))) if text else None
    except ValueError:
        return None


def _check(n: int, row: dict[str, str], seen: set[tuple[str, str, str]]) -> list[str]:
    errs = [f"row {n}: {col} is empty" for col in REQUIRED if not row.get(col)]
    if row.get("community") and not Community.objects.filter(code=row["community"]).exists() and not row.get("street"):
        errs.append(f"row {n}: community {row['community']!r} does not exist (give its street to create it)")
    by = row.get("birth_year", "")
    if by and not (by.isdigit() and 1900 <= int(by) <= datetime.now().year):
        errs.append(f"row {n}: birth_year {by!r} is not a year")
    key = (row.get("site", ""), row.get("gateway", ""), row.get("resident_id", ""))
    if all(key):
        if key in seen:
            errs.append(f"row {n}: resident {'/'.join(key)} appears twice in the file")
        seen.add(key)
        gw = Gateway.objects.filter(site=key[0], gateway=key[1]).select_related("home").first()
        if gw and gw.home and Resident.objects.filter(home=gw.home, resident_id=key[2]).exists():
            errs.append(f"row {n}: resident {'/'.join(key)} is already registered")
    if row.get("consent_date") and not row.get("consent_by"):
        errs.append(f"row {n}: consent_date without consent_by (who gave the consent)")
    if row.get("consent_by") and _date(row.get("consent_date", "")) is None:
        errs.append(f"row {n}: consent_date {row.get('consent_date', '')!r} is not a date (YYYY-MM-DD)")
    gw_user = row.get("grid_worker", "")
    if gw_user and not get_user_model().objects.filter(username=gw_user).exists():
        errs.append(f"row {n}: grid_worker {gw_user!r} is not a user")
    for i in (1, 2, 3):
        name, phone = row.get(f"contact{i}_name", ""), row.get(f"contact{i}_phone", "")
        if not name:
            continue
        if phone and not phone.replace("-", "").replace(" ", "").lstrip("+").isdigit():
            errs.append(f"row {n}: contact{i}_phone {phone!r} is not a phone number")
        role = row.get(f"contact{i}_role", "")
        if ROLE_ZH.get(role, role) not in {r.value for r in Contact.Role}:
            errs.append(f"row {n}: contact{i}_role {role!r} is not one of "
                        f"{', '.join(r.value for r in Contact.Role)}")
        if row.get(f"contact{i}_consent", "").lower() not in YES | NO:
            errs.append(f"row {n}: contact{i}_consent must be yes or no")
    return errs


def import_residents(path: Path, dry_run: bool, actor: Any = "import") -> ImportReport:
    report = ImportReport(dry_run=dry_run)
    try:
        rows = read_rows(path)
    except (OSError, ValueError) as err:
        report.errors.append(f"cannot read {path.name}: {err}")
        return report
    report.rows = len(rows)
    seen: set[tuple[str, str, str]] = set()
    for n, row in enumerate(rows, start=2):  # row 1 is the header, as a spreadsheet numbers it
        report.errors.extend(_check(n, row, seen))
    if report.errors or dry_run:
        return report
    counts = {"communities": 0, "homes": 0, "gateways": 0, "residents": 0, "contacts": 0, "consents": 0}
    now = datetime.now().astimezone()
    with transaction.atomic():
        for row in rows:
            community = Community.objects.filter(code=row["community"]).first()
            if community is None:
                street, _ = Street.objects.get_or_create(name=row["street"])
                community = Community.objects.create(code=row["community"], name=row["community"], street=street)
                counts["communities"] += 1
            gw, _ = Gateway.objects.get_or_create(site=row["site"], gateway=row["gateway"])
            home = gw.home
            if home is None:
                home = Home.objects.create(community=community, address=row["address"],
                                           building=row.get("building", ""), unit=row.get("unit", ""),
                                           house_number=row.get("house_number", ""),
                                           keyholder=row.get("keyholder", ""))
                gw.home = home
                gw.save(update_fields=["home"])
                counts["homes"] += 1
                counts["gateways"] += 1
            grid = get_user_model().objects.filter(username=row.get("grid_worker", "")).first()
            r = Resident.objects.create(
                home=home, resident_id=row["resident_id"], name=row["name"], surname=row["name"][:1],
                sex={"女": "f", "男": "m"}.get(row.get("sex", ""), row.get("sex", "")[:1].lower()),
                birth_year=int(row["birth_year"]) if row.get("birth_year") else None,
                medical_history=row.get("medical_history", ""), medications=row.get("medications", ""),
                allergies=row.get("allergies", ""), grid_worker=grid,
                appearance=row.get("appearance", "")[:500], calming=row.get("calming", "")[:500],
                at_risk_of_getting_lost=row.get("at_risk_of_getting_lost", "").strip().lower() in YES)
            counts["residents"] += 1
            given = _date(row.get("consent_date", ""))
            if row.get("consent_by") and given is not None:
                Consent.objects.create(resident=r, scope=MONITORING, given_by=row["consent_by"][:100], given_at=given)
                counts["consents"] += 1
            for i in (1, 2, 3):
                if row.get(f"contact{i}_name"):
                    role = row.get(f"contact{i}_role", "")
                    Contact.objects.create(resident=r, order=i, name=row[f"contact{i}_name"],
                                           phone=row.get(f"contact{i}_phone", ""), role=ROLE_ZH.get(role, role),
                                           consent_to_call=row.get(f"contact{i}_consent", "").lower() in YES)
                    counts["contacts"] += 1
        record(now, actor, "imported", f"file:{path.name}", **counts)
    report.created = counts
    return report
