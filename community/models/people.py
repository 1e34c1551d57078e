"""Who uses the server: each user's role and scope, API tokens, duty shifts, visits and snoozes."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, time

from django.conf import settings
from django.db import models

from eldergate.community.models.registry import Community, Home, Resident, Street

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


class ApiToken(models.Model):
    """Only the SHA-256 of a token is stored; the token itself is shown once, at creation."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    digest = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(auto_now_add=True)
    revoked = models.BooleanField(default=False)

    @staticmethod
    def digest_of(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    @classmethod
    def issue(cls, user: models.Model) -> str:
        token = "eg_" + secrets.token_urlsafe(32)
        cls.objects.create(user=user, digest=cls.digest_of(token))
        return token


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
