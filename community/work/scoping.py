"""Every query a person's request makes is scoped here, and only here: which rows (communities,
homes, residents, gateways, alerts) and which fields of them (contacts, medical notes, health data,
the wall) each role may see, by need to know (PIPL Art. 6 and 51: the minimum necessary).

platform operator: everything, and the unknown gateways; street admin: the communities of the
street; community admin and grid worker: their community; volunteer: the residents assigned to
them and the alerts they are paged for (assigned to them, or their community's while they hold a
duty shift there); installer: the homes they are installing (in installation mode, or whose box
they claimed in the last 30 days), without contacts, medical notes or health data; relative: one
elder, no wall. A user without a profile sees nothing. docs/community.md has the table (POLICY)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Q, QuerySet

from eldergate.community.clock import now
from eldergate.community.models import Alert, BoxIdentity, Community, DutyShift, Gateway, Home, Profile, Resident
from eldergate.community.models.people import ACTING_ROLES, MEDICAL_ROLES

WALL_ROLES = frozenset({"platform-operator", "street-admin", "community-admin", "grid-worker"})
CONTACT_ROLES = frozenset({"platform-operator", "street-admin", "community-admin", "grid-worker", "volunteer",
                           "relative"})
# health data (vitals, nightly figures, trends): those who care for the resident, with the resident's
# consent to monitoring (work/consent.py); not the operator, a street admin or an installer
HEALTH_ROLES = frozenset({"community-admin", "grid-worker", "volunteer", "relative"})
REPORT_ROLES = WALL_ROLES  # the month's response times and outcomes: those who run the service
CLAIM_ROLES = frozenset({"installer", "community-admin", "platform-operator"})  # claim and revoke boxes
# a resident's contacts and thresholds, which the home's box is sent (work/desired_config.py)
SETTINGS_ROLES = frozenset({"platform-operator", "community-admin", "grid-worker"})
INSTALLING = timedelta(days=30)  # an installer keeps a home they claimed a box in for this long

# role -> what it may see beyond its rows: the table in docs/community.md, tested in
# tests/community/test_roles.py against every page and API path
POLICY = {r: {"wall": r in WALL_ROLES, "reports": r in REPORT_ROLES, "contacts": r in CONTACT_ROLES,
              "medical": r in MEDICAL_ROLES, "health": r in HEALTH_ROLES, "act": r in ACTING_ROLES,
              "claim": r in CLAIM_ROLES, "settings": r in SETTINGS_ROLES}
          for r in ("platform-operator", "street-admin", "community-admin", "grid-worker", "volunteer", "installer",
                    "relative")}


def profile(user: Any) -> Profile | None:
    try:
        return user.profile  # type: ignore[no-any-return]
    except (Profile.DoesNotExist, AttributeError):
        return None


def role(user: Any) -> str:
    p = profile(user)
    if p is None:
        return "platform-operator" if getattr(user, "is_superuser", False) else ""
    return p.role


def _only(pk: int | None) -> int:
    """A missing id matches nothing (no row has id -1), never everything."""
    return -1 if pk is None else pk


def communities(user: Any) -> QuerySet[Community]:
    p, r = profile(user), role(user)
    if r == "platform-operator":
        return Community.objects.all()
    if p is None:
        return Community.objects.none()
    if r == "street-admin":
        return Community.objects.filter(street_id=_only(p.street_id))
    if r == "relative":
        return Community.objects.filter(homes__residents=_only(p.resident_id))
    return Community.objects.filter(pk=_only(p.community_id))


def _installing(user: Any) -> Q:
    """The homes an installer is installing: in installation mode in their community, or whose box
    they claimed in the last 30 days."""
    claimed = (BoxIdentity.objects.filter(issued_by=user.get_username(), issued_at__gte=now() - INSTALLING)
               .values("gateway__home"))
    return Q(mode=Home.Mode.INSTALLATION) | Q(pk__in=claimed)


def _on_duty_in(user: Any) -> QuerySet[DutyShift]:
    return DutyShift.objects.filter(user=user)


def residents(user: Any) -> QuerySet[Resident]:
    p, r = profile(user), role(user)
    if r == "relative":
        return Resident.objects.filter(pk=_only(p.resident_id if p else None))
    if r == "installer":
        return Resident.objects.filter(home__in=homes(user))
    if r == "volunteer":
        return Resident.objects.filter(Q(home__community__in=communities(user))
                                       & (Q(volunteer=user) | Q(pk__in=alerts(user).values("resident"))))
    return Resident.objects.filter(home__community__in=communities(user))


def homes(user: Any) -> QuerySet[Home]:
    p, r = profile(user), role(user)
    if r == "relative":
        return Home.objects.filter(residents=_only(p.resident_id if p else None))
    if r == "installer":
        return Home.objects.filter(Q(community__in=communities(user)) & _installing(user))
    if r == "volunteer":
        return Home.objects.filter(pk__in=residents(user).values("home"))
    return Home.objects.filter(community__in=communities(user))


def gateways(user: Any) -> QuerySet[Gateway]:
    if role(user) == "platform-operator":
        return Gateway.objects.all()
    return Gateway.objects.filter(home__in=homes(user))


def claimable_gateways(user: Any) -> QuerySet[Gateway]:
    """The gateways a box may be claimed for, or revoked as removed: an installer's whole community
    (the code on the box in front of them is the proof; a revocation only ever takes access away),
    otherwise the gateways in scope."""
    if role(user) == "installer":
        return Gateway.objects.filter(home__community__in=communities(user))
    return gateways(user) if may_claim(user) else Gateway.objects.none()


def alerts(user: Any) -> QuerySet[Alert]:
    p, r = profile(user), role(user)
    if r == "platform-operator":
        return Alert.objects.all()  # unknown gateways' alerts included
    if r == "relative":
        return Alert.objects.filter(resident_id=_only(p.resident_id if p else None))
    if r == "installer":
        return Alert.objects.filter(community__in=communities(user), gateway__home__in=homes(user))
    if r == "volunteer":
        duty = _on_duty_in(user).values("community")
        return Alert.objects.filter(Q(community__in=communities(user))
                                    & (Q(resident__volunteer=user) | Q(assignee=user) | Q(community__in=duty)))
    return Alert.objects.filter(Q(community__in=communities(user)))


def by_ref(qs: QuerySet[Alert], key: str) -> Alert | None:
    """The alert of ``qs`` at address ``key``: ``site.gateway.alert_id`` (ids hold no dot), or a
    bare alert id when exactly one alert of ``qs`` has it (alert ids are unique per gateway only:
    a box cannot shadow another's alert by reusing its id)."""
    parts = key.split(".")
    if len(parts) == 3:
        site, gateway, alert_id = parts
        return qs.filter(gateway__site=site, gateway__gateway=gateway, alert_id=alert_id).first()
    found = list(qs.filter(alert_id=key)[:2])
    return found[0] if len(found) == 1 else None


ROWS = {
    "platform-operator": "every community, and boxes nobody adopted yet",
    "street-admin": "the communities of their street",
    "community-admin": "their community",
    "grid-worker": "their community",
    "volunteer": "residents assigned to them; alerts assigned to them, of their residents, or of their community "
                 "while they hold a duty shift there",
    "installer": "homes in installation mode in their community, or whose box they claimed in the last 30 days",
    "relative": "their one elder (the family page)",
}
COLUMNS = (("wall", "wall screen"), ("reports", "reports"), ("contacts", "contacts' phones"),
           ("medical", "medical notes"), ("health", "health data ¹"), ("act", "act on alerts"),
           ("claim", "claim boxes"), ("settings", "contacts and thresholds ²"))


def policy_table() -> str:
    """POLICY as the Markdown table docs/community.md carries (a test keeps the two the same)."""
    head = "| role | sees | " + " | ".join(label for _, label in COLUMNS) + " |"
    rule = "| --- | --- | " + " | ".join(":-:" for _ in COLUMNS) + " |"
    rows = [f"| {r} | {ROWS[r]} | " + " | ".join("✓" if POLICY[r][k] else "—" for k, _ in COLUMNS) + " |"
            for r in POLICY]
    return "\n".join([head, rule, *rows])


def may_claim(user: Any) -> bool:
    return role(user) in CLAIM_ROLES


def may_change_settings(user: Any) -> bool:
    return role(user) in SETTINGS_ROLES


def may_read_medical(user: Any) -> bool:
    return role(user) in MEDICAL_ROLES


def may_see_wall(user: Any) -> bool:
    return role(user) in WALL_ROLES


def may_see_reports(user: Any) -> bool:
    return role(user) in REPORT_ROLES


def may_see_contacts(user: Any) -> bool:
    return role(user) in CONTACT_ROLES


def may_see_health(user: Any, resident: Resident) -> bool:
    """Vitals, nightly figures and trends: a caring role, and the resident's consent to monitoring."""
    from eldergate.community.work.consent import monitoring_consent

    return role(user) in HEALTH_ROLES and monitoring_consent(resident, now())


def may_act(user: Any, alert: Alert | None = None) -> bool:
    """Take an alert's steps. The platform operator answers what unknown gateways send."""
    r = role(user)
    return r in ACTING_ROLES or (r == "platform-operator" and alert is not None and alert.community_id is None)


def may_administer(user: Any) -> bool:
    return role(user) in ("platform-operator", "street-admin", "community-admin")
