"""Who uses the server: each user's role and scope, API tokens, duty shifts, visits and snoozes."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, time, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from eldergate.community.models.places import Community, Home, Resident, Street

ROLES = ("platform-operator", "street-admin", "community-admin", "grid-worker", "volunteer", "relative", "installer")
MEDICAL_ROLES = frozenset({"community-admin", "grid-worker"})  # least privilege (PIPL Art. 51)
ACTING_ROLES = frozenset({"community-admin", "grid-worker", "volunteer"})  # may take an alert through its steps


class Profile(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    role = models.CharField(max_length=20, choices=[(r, r) for r in ROLES])
    street = models.ForeignKey(Street, null=True, blank=True, on_delete=models.PROTECT)
    community = models.ForeignKey(Community, null=True, blank=True, on_delete=models.PROTECT)
    resident = models.ForeignKey(Resident, null=True, blank=True, on_delete=models.CASCADE,
                                 help_text="a relative sees this one elder only")
    phone = models.CharField(max_length=30, blank=True)
    notify_url = models.CharField(max_length=500, blank=True, help_text="Apprise URL: wecom://, dingtalk://, ...")

    def __str__(self) -> str:
        return f"{self.user.get_username()} ({self.role})"


TOKEN_DAYS = 90  # a personal API token's default life; `tokens issue --days` chooses another


class ApiToken(models.Model):
    """A personal API token: named, expiring, revocable. Only its SHA-256 is stored; the token itself
    is shown once, at creation. It authenticates API calls only, never a browser session."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    digest = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=100, blank=True, help_text="what it is for: 'wall tablet', 'reports script'")
    created = models.DateTimeField(auto_now_add=True)
    expires = models.DateTimeField(null=True, help_text="no longer accepted from then on")
    last_used = models.DateTimeField(null=True, blank=True)
    revoked = models.BooleanField(default=False)

    @staticmethod
    def digest_of(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    @classmethod
    def issue(cls, user: models.Model, name: str = "", days: int = TOKEN_DAYS, at: datetime | None = None) -> str:
        token = "eg_" + secrets.token_urlsafe(32)
        start = at or timezone.now()
        cls.objects.create(user=user, digest=cls.digest_of(token), name=name[:100],
                           expires=start + timedelta(days=days))
        return token

    @classmethod
    def live(cls, token: str, at: datetime) -> ApiToken | None:
        return (cls.objects.select_related("user__profile")
                .filter(digest=cls.digest_of(token), revoked=False, expires__gt=at, user__is_active=True).first())


LINK_MINUTES = 15  # a one-time login link's default life


class LoginLink(models.Model):
    """A one-time login link (/console/link/<secret>): short-lived, used once, exchanged for a session
    by a POST (so a chat app's link preview cannot spend it). Only the secret's SHA-256 is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    digest = models.CharField(max_length=64, unique=True)
    next_path = models.CharField(max_length=300, default="/console")
    created = models.DateTimeField()
    expires = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    @classmethod
    def issue(cls, user: models.Model, at: datetime, next_path: str = "/console", minutes: int = LINK_MINUTES) -> str:
        secret = secrets.token_urlsafe(32)
        cls.objects.create(user=user, digest=ApiToken.digest_of(secret), next_path=next_path[:300], created=at,
                           expires=at + timedelta(minutes=minutes))
        return secret

    @classmethod
    def spend(cls, secret: str, at: datetime) -> LoginLink | None:
        """The link, marked used, if it was unused, unexpired and its user active; else None. One
        conditional UPDATE, so two taps racing cannot both win."""
        digest = ApiToken.digest_of(secret)
        won = cls.objects.filter(digest=digest, used_at__isnull=True, expires__gt=at,
                                 user__is_active=True).update(used_at=at)
        return cls.objects.select_related("user").get(digest=digest) if won else None


class DutyShift(models.Model):
    """The duty grid worker, by local time of day (a night shift crosses midnight)."""

    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="shifts")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    start = models.TimeField()
    end = models.TimeField()

    def covers(self, t: time) -> bool:
        if self.start <= self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end


class Visit(models.Model):
    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="visits")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField()
    kind = models.CharField(max_length=10, choices=[("visit", "visit"), ("call", "call")], default="visit")
    note = models.TextField(blank=True)


class Snooze(models.Model):
    """"In hospital until 3 Dec": a home's alerts page nobody until then. Always with a reason and an
    expiry, always audited; there is no global mute."""

    home = models.ForeignKey(Home, on_delete=models.CASCADE, related_name="snoozes")
    reason = models.CharField(max_length=200)
    until = models.DateTimeField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created = models.DateTimeField()

    @staticmethod
    def active_for(home: Home | None, now: datetime) -> Snooze | None:
        if home is None:
            return None
        return Snooze.objects.filter(home=home, created__lte=now, until__gt=now).order_by("-until").first()
