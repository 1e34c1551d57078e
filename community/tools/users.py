"""Creating users with a role and a scope (and, on request, an API token)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction

from eldergate.community.models import ApiToken, Community, Profile, Resident, Street
from eldergate.community.models.audit import record


class UserError(Exception):
    pass


def create_user(name: str, role: str, community: str | None = None, street: str | None = None,
                resident: int | None = None, notify_url: str = "", token: bool = False,
                password: str | None = None, created_community: list[str] | None = None,
                display_name: str = "") -> str | None:
    """``created_community`` collects the code of a community this call had to create."""
    created_community = created_community if created_community is not None else []
    c = s = r = None
    if role in ("community-admin", "grid-worker", "volunteer", "installer"):
        if not community:
            raise UserError(f"--community: a {role} belongs to a community")
        c = Community.objects.filter(code=community).first()
        if c is None and community.isdigit():
            c = Community.objects.filter(pk=int(community)).first()
        if c is None:  # a new server's first users: the community (its code is the gateways' site) starts here
            its_street, _ = Street.objects.get_or_create(name=community)
            c = Community.objects.create(code=community, name=community, street=its_street)
            created_community.append(c.code)
    if role == "street-admin":
        s = Street.objects.filter(name=street or "").first()
        if s is None:
            raise UserError(f"--street: no street {street!r}")
    if role == "relative":
        r = Resident.objects.filter(pk=resident or 0).select_related("home__community").first()
        if r is None:
            raise UserError("--resident: a relative is tied to one resident record (its id)")
        c = r.home.community
    from django.utils import timezone

    with transaction.atomic():
        user, created = get_user_model().objects.get_or_create(username=name)
        if created or password is not None:
            if password:
                user.set_password(password)
            elif created:
                user.set_unusable_password()
            # the admin pages are not scoped per community: the platform operator's only
            user.is_staff = role == "platform-operator"
            user.is_superuser = role == "platform-operator"
            user.save()
        if display_name.strip():  # pages name people by it ("李明 已到达 03:12"), never by the login name
            user.first_name = display_name.strip()[:150]
            user.save(update_fields=["first_name"])
        Profile.objects.update_or_create(user=user, defaults={"role": role, "community": c, "street": s,
                                                              "resident": r, "notify_url": notify_url})
        record(timezone.now(), "cli", "user_created" if created else "user_updated", user, role=role)
        return ApiToken.issue(user) if token else None
