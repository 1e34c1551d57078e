"""Finding a resident who is lost (#35): a badge's code a passer-by scans, the locators a family
already uses (a Traccar server forwards their positions), and the positions, kept only as long as
a search needs them (see work/lost.py)."""

from __future__ import annotations

import secrets

from django.db import models

from eldergate.community.models.places import Resident

# a short code a person can also type: no 0/O, 1/I/L (as the claim codes)
BADGE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_badge_code() -> str:
    return "".join(secrets.choice(BADGE_ALPHABET) for _ in range(10))


class Badge(models.Model):
    """The code on a resident's anti-lost badge. The code says nothing about the resident: the
    finder's page shows no name or address; a reissue revokes the old code."""

    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="badges")
    code = models.CharField(max_length=16, unique=True, default=new_badge_code)
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=150, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"badge {self.pk}"  # never the code or the resident's name: this reaches logs


class Locator(models.Model):
    """A tracker the family uses, as its tracking server names it (Traccar's device uniqueId)."""

    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="locators")
    unique_id = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"locator {self.pk}"


class Position(models.Model):
    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="positions")
    t = models.DateTimeField(help_text="the fix time")
    latitude = models.FloatField()
    longitude = models.FloatField()
    accuracy_m = models.FloatField(null=True, blank=True)
    source = models.CharField(max_length=20, default="traccar")
    received_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["resident", "t"])]
