"""The one door for alerts the server raises itself (a home gone offline, a finder's scan): stored
as "received", with the same history, escalation ladder, audit entry and change notice as an
alert from a box, and its title in the contract's words (contract/alert_kinds.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eldergate.community.config import CommunityConfig
from eldergate.community.models import Alert, Community, Gateway, Home, Resident, Snooze
from eldergate.community.models.audit import record
from eldergate.community.work import escalation
from eldergate.community.work.workflow import add_state, changed
from eldergate.contract.alert_kinds import facets


def pages_nobody(home: Home | None, now: datetime, snoozed: bool | None = None) -> bool:
    """A home being installed or snoozed: its alerts are recorded as tests and page nobody.
    ``snoozed``: already looked up (a batch looks once for all its homes)."""
    if home is None:
        return False
    if snoozed is None:
        snoozed = Snooze.active_for(home, now) is not None
    return home.mode == Home.Mode.INSTALLATION or snoozed


def raise_on_server(kind: str, gateway: Gateway, community: Community | None, now: datetime, cfg: CommunityConfig,
                    *, alert_id: str, resident: Resident | None = None, evidence: dict[str, Any] | None = None,
                    test: bool = False, **audit: Any) -> Alert:
    """Call inside the caller's transaction (it decides what makes the alert unique)."""
    words = facets(kind)
    resident_key = resident.resident_id if resident is not None else ""
    alert = Alert.objects.create(
        alert_id=alert_id, gateway=gateway, community=community, resident=resident, resident_key=resident_key,
        kind=kind, severity=words.severity if words else "warning", title_zh=words.zh if words else kind,
        title_en=words.en if words else kind, origin="server", evidence=evidence or {}, test=test,
        state="received", raised_at=now, received_at=now,
        group_key=f"{gateway.site}/{gateway.gateway}/{resident_key}/{kind}")
    add_state(alert, "raised", now, "server", "server")
    add_state(alert, "received", now, "server", "server")
    escalation.schedule(alert, cfg, new=True)
    record(now, "server", kind, alert, **audit)
    changed(alert)
    return alert
