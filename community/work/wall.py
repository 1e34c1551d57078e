"""What the wall (数据大屏) shows for one community: a tile per resident, open alerts first.

State comes from the resident's latest bed, sleep and door events; vitals with their age
("as of 22:04"), greyed when stale and left out when the resident is not in bed; today's bed
exits, turnovers and nap time from the last 24 hours' events (last night included); the home's gateway
offline shown as such. Names as the community chooses: full name, or surname + 婆婆/爷爷 + house
number (the default); medical notes never, unless the community turned them on."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, Max, Q

from eldergate.community.models import Alert, AuditEntry, Community, Event, Gateway, Resident, Summary, VitalsLatest
from eldergate.community.models.audit import record
from eldergate.community.models.crypto import decrypt
from eldergate.community.work import consent
from eldergate.community.work.names import Names
from eldergate.community.work.words import duration, t
from eldergate.community.work.words import since as since_words
from eldergate.contract.alert_kinds import AlertKind
from eldergate.contract.events import EventName as E

STALE = timedelta(minutes=5)
UNSEEN = timedelta(hours=6)
STATE_EVENTS: dict[str, str | None] = {
    E.SLEEP_START: "asleep", E.SLEEP_END: "awake_in_bed", E.BED_ENTRY: "awake_in_bed", E.BED_RETURN: "awake_in_bed",
    E.BED_EXIT: "up", E.ACTIVITY_RESUMED: "up", E.FALL_RECOVERED: "up", E.RETURNED_HOME: "up",
    E.WANDERING: "out", E.DOOR_OPENED: None, E.DOOR_CLOSED: None,
    E.WENT_OUT: "out", E.CAME_BACK: "up",
}
IN_BED = {"asleep", "awake_in_bed"}
ACTIVE_EVENTS = (E.BED_EXIT, E.DOOR_OPENED, E.ACTIVITY_RESUMED)


def display_name(r: Resident, community: Community) -> str:
    if community.wall_names == Community.WallNames.FULL:
        return r.name
    title = "婆婆" if r.sex == "f" else "爷爷" if r.sex == "m" else "老人"
    return f"{r.surname or r.name[:1]}{title} {r.home.house_number}".strip()


def place_label(r: Resident, lang: str) -> str:
    """Building-unit-room ("3栋2单元1101"): house numbers repeat across buildings."""
    h = r.home
    if h.building and h.unit:
        return t("building_unit_room", lang, b=h.building, u=h.unit, r=h.house_number)
    return "-".join(x for x in (h.building, h.unit, h.house_number) if x)


# the sensor groups at a glance, in order, with the alerts that are theirs (the status names sensors
# by id, and a group is the sensors whose id holds its name: "kitchen_gas", "front_door")
GROUP_ALARMS = {"gas": (AlertKind.GAS, AlertKind.CARBON_MONOXIDE), "smoke": (AlertKind.SMOKE,), "door": ()}


def _sensor_states(g: Gateway | None, alerts: list[Alert], door: str | None, lang: str) -> list[dict[str, str]]:
    """Gas, smoke and door at a glance: an open alarm, a sensor gone quiet, or fine; the door open or
    shut by its last event. A group the home has no sensor of is left out."""
    out = []
    sensors = (g.sensors or {}) if g else {}
    for group, alarms in GROUP_ALARMS.items():
        ids = [sid for sid in sensors if group in sid.lower()]
        if not ids:
            continue
        label = t("smoke_s" if group == "smoke" else group, lang)
        if any(a.kind in alarms for a in alerts):
            state, text = "alarm", t("sensor_alarm", lang)
        elif any(sensors[sid] != "ok" for sid in ids):
            state, text = "off", t("sensor_off", lang)
        elif group == "door" and door:
            state, text = door, t(f"door_{door}", lang)
        else:
            state, text = "ok", ""  # fine: the label alone, in green (the state is in data-sensor-state too)
        out.append({"group": group, "state": state, "text": label + text})
    return out


def _hr_reason(offline: bool, state: str, has_value: bool) -> str | None:
    """Why the wall shows no fresh heart rate: the box is offline, the person is not in bed, or the
    radar is not sure (it speaks only when it is: about half the time in bed)."""
    if offline:
        return "hr_offline"
    if state not in IN_BED:
        return "hr_not_in_bed"
    return None if has_value else "hr_weak"


def fingerprint(community: Community) -> str:
    """Changes whenever anything on the wall may have: the live page refetches then."""
    alerts = Alert.objects.filter(community=community).aggregate(m=Max("updated_at"))["m"]
    gws = Gateway.objects.filter(home__community=community)
    g = gws.aggregate(s=Max("status_at"), o=Count("pk", filter=Q(offline=True)))  # no MAX(boolean) in PostgreSQL
    vit = VitalsLatest.objects.filter(gateway__in=gws).aggregate(m=Max("t"))["m"]
    ev = Event.objects.filter(gateway__in=gws).aggregate(m=Max("pk"))["m"]
    return f"{alerts}|{g['s']}|{g['o']}|{vit}|{ev}"


WALL_MEDICAL_AUDIT_EVERY = timedelta(hours=1)


def _audit_medical_on_wall(community: Community, shown: list[int], now: datetime) -> None:
    """Medical notes on the wall are reads too (PIPL Art. 55): one entry per wall and hour naming
    the residents shown, not one per refresh (a wall renders every few seconds)."""
    last = (AuditEntry.objects.filter(action="medical_shown_on_wall", object_type="community",
                                      object_id=str(community.pk), at__gt=now - WALL_MEDICAL_AUDIT_EVERY)
            .order_by("-at").first())
    if last is None or last.details.get("residents") != shown:
        record(now, "wall", "medical_shown_on_wall", community, residents=shown)


def tiles(community: Community, now: datetime, tz: str, lang: str) -> list[dict[str, Any]]:
    residents = list(Resident.objects.filter(home__community=community).select_related("home")
                     .prefetch_related("home__gateways").order_by("home__building", "home__unit", "home__house_number",
                                                                    "pk"))
    gws = {g.home_id: g for g in Gateway.objects.filter(home__community=community)}
    key_of = {}
    for r in residents:
        g = gws.get(r.home_id)
        key_of[r.pk] = (g.pk if g else None, r.resident_id)
    vitals = {(v.gateway_id, v.resident_key): v for v in VitalsLatest.objects.filter(gateway__in=gws.values())}
    consented = consent.live([r.pk for r in residents], consent.MONITORING, now)
    day_ago = now - timedelta(hours=24)  # "today" on the wall: the last 24 hours, last night included
    today: dict[tuple[int, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    naps: dict[tuple[int, str], float] = defaultdict(float)
    sleeping_since: dict[tuple[int, str], datetime] = {}
    for e in Event.objects.filter(gateway__in=gws.values(), t__gte=day_ago).order_by("t"):
        k = (e.gateway_id, e.resident_key)
        today[k][e.name] += 1
        local_hour = e.t.astimezone(ZoneInfo(tz)).hour
        if e.name == E.SLEEP_START and 10 <= local_hour < 19:
            sleeping_since[k] = e.t
        elif e.name == E.SLEEP_END and k in sleeping_since:
            naps[k] += (e.t - sleeping_since.pop(k)).total_seconds() / 60
    resting: dict[tuple[int, str], float] = {}
    for srow in (Summary.objects.filter(gateway__in=gws.values(), period_end__gte=now - timedelta(hours=36))
                 .order_by("period_end")):
        rate = (srow.figures or {}).get("resting_heart_rate_bpm")
        if isinstance(rate, (int, float)):
            resting[(srow.gateway_id, srow.resident_key)] = float(rate)
    doors: dict[int, str] = {}
    for e in (Event.objects.filter(gateway__in=gws.values(), t__gte=now - timedelta(days=7),
                                   name__in=(E.DOOR_OPENED, E.DOOR_CLOSED)).order_by("t")):
        doors[e.gateway_id] = "open" if e.name == E.DOOR_OPENED else "closed"
    zone = ZoneInfo(tz)
    names = Names(lang)
    last_state: dict[tuple[int, str], tuple[str, datetime]] = {}
    latest_events = (Event.objects.filter(gateway__in=gws.values(), t__gte=now - timedelta(days=7),
                                          name__in=[n for n, s in STATE_EVENTS.items() if s])
                     .order_by("gateway_id", "resident_key", "-t"))
    for e in latest_events:
        k = (e.gateway_id, e.resident_key)
        if k not in last_state:
            last_state[k] = (STATE_EVENTS[e.name] or "up", e.t)
    open_alerts: dict[int, list[Alert]] = defaultdict(list)
    home_alerts: dict[int, list[Alert]] = defaultdict(list)
    for a in (Alert.objects.filter(community=community).exclude(state="resolved")
              .select_related("gateway").order_by("raised_at")):
        if a.resident_id is not None:
            open_alerts[a.resident_id].append(a)
        elif a.gateway.home_id is not None:
            home_alerts[a.gateway.home_id].append(a)
    out = []
    for r in residents:
        g = gws.get(r.home_id)
        k = (key_of[r.pk][0] or -1, r.resident_id)
        state, since = last_state.get(k, ("unseen", None))
        v = vitals.get(k)
        if since is None or (now - since > UNSEEN and (v is None or now - v.t > UNSEEN)):
            state = "unseen" if state != "out" else state
        offline = bool(g and g.offline)
        if offline:
            state = "offline"
        health = r.pk in consented  # without consent to monitoring: name, state and alerts only
        show_vitals = health and v is not None and state in IN_BED and not offline
        alerts = [*open_alerts.get(r.pk, []), *home_alerts.get(r.home_id, [])]
        fresh = bool(show_vitals and v and now - v.t <= STALE and v.heart_rate_bpm)
        reason = _hr_reason(offline, state, fresh) if health else None
        tile: dict[str, Any] = {
            "key": f"{g.site}/{g.gateway}/{r.resident_id}" if g else f"-/-/{r.resident_id}",
            "resident": r.pk, "name": display_name(r, community), "place": place_label(r, lang),
            "hr_reason": t(reason, lang) if reason else None,
            "resting_hr": round(resting[k]) if health and k in resting else None,
            "sensors": _sensor_states(g, alerts, doors.get(g.pk) if g else None, lang),
            "age": now.year - r.birth_year if r.birth_year else None,
            "state": state,
            "state_text": t("out_for", lang, t=duration((now - since).total_seconds(), lang))
            if state == "out" and since is not None else t(state, lang),
            "offline": offline,
            "hr": round(v.heart_rate_bpm) if show_vitals and v and v.heart_rate_bpm else None,
            "br": round(v.breathing_rate_bpm) if show_vitals and v and v.breathing_rate_bpm else None,
            "vitals_at": v.t.astimezone(ZoneInfo(tz)).strftime("%H:%M") if show_vitals and v else None,
            "vitals_stale": bool(show_vitals and v and now - v.t > STALE),
            "health": health,
            "bed_exits": today[k].get(E.BED_EXIT, 0) if health else None,
            "turnovers": today[k].get(E.TURNOVER, 0) if health else None,
            "nap_min": round(naps.get(k, 0)) if health else None,
            "activity": sum(n for name, n in today[k].items() if name in ACTIVE_EVENTS) if health else None,
            "alerts": [{"id": a.alert_id, "kind": a.kind, "title": a.title_zh if lang != "en" else a.title_en,
                        "severity": a.severity,
                        "age_min": int((now - a.raised_at).total_seconds() // 60),
                        "since": since_words((now - a.raised_at).total_seconds(),
                                       a.raised_at.astimezone(zone).strftime("%m-%d %H:%M"), lang),
                        "urgency": t(f"sev_{a.severity}", lang) if a.severity in ("critical", "warning", "info")
                        else "",
                        "acknowledged_by": names.person(a.acknowledged_by), "state": a.state, "test": a.test}
                       for a in alerts],
        }
        if community.wall_medical:
            tile["medical"] = decrypt(r.medical_history)
        out.append(tile)
    if community.wall_medical:
        _audit_medical_on_wall(community, [r.pk for r in residents], now)
    # open alerts rise to the top (critical first, oldest first), then offline homes, then the rest
    out.sort(key=lambda x: (not x["alerts"], not any(a["severity"] == "critical" for a in x["alerts"]),
                            not x["offline"], -max((a["age_min"] for a in x["alerts"]), default=0)))
    return out
