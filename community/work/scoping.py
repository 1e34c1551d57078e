"""Every query a person's request makes is scoped here, and only here.

platform operator: everything, and the unknown gateways; street admin: the communities of the
street; community admin, grid worker, volunteer, installer: their community; relative: one elder.
A user without a profile sees nothing."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from eldergate.community.models import Alert, Community, Gateway, Home, Profile, Resident
from eldergate.community.models.people import ACTING_ROLES, MEDICAL_ROLES


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


def residents(user: Any) -> QuerySet[Resident]:
    p, r = profile(user), role(user)
    if r == "relative":
        return Resident.objects.filter(pk=_only(p.resident_id if p else None))
    return Resident.objects.filter(home__community__in=communities(user))


def homes(user: Any) -> QuerySet[Home]:
    p, r = profile(user), role(user)
    if r == "relative":
        return Home.objects.filter(residents=_only(p.resident_id if p else None))
    return Home.objects.filter(community__in=communities(user))


def gateways(user: Any) -> QuerySet[Gateway]:
    if role(user) == "platform-operator":
        return Gateway.objects.all()
    return Gateway.objects.filter(home__in=homes(user))


def alerts(user: Any) -> QuerySet[Alert]:
    p, r = profile(user), role(user)
    if r == "platform-operator":
        return Alert.objects.all()  # unknown gateways' alerts included
    if r == "relative":
        return Alert.objects.filter(resident_id=_only(p.resident_id if p else None))
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


def may_read_medical(user: Any) -> bool:
    return role(user) in MEDICAL_ROLES


def may_act(user: Any, alert: Alert | None = None) -> bool:
    """Take an alert's steps. The platform operator answers what unknown gateways send."""
    r = role(user)
    return r in ACTING_ROLES or (r == "platform-operator" and alert is not None and alert.community_id is None)


def may_administer(user: Any) -> bool:
    return role(user) in ("platform-operator", "street-admin", "community-admin")
