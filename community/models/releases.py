"""Software releases for the boxes and their rollouts (work/rollouts.py)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from eldergate.community.models.places import Gateway

ROLLOUT_STATES = ("running", "halted", "done")
TARGET_STATES = ("waiting", "sent", "confirmed", "failed")


class Release(models.Model):
    """A signed bundle the server checked against the release key (``eldergate community release add``)."""

    version = models.CharField(max_length=40, unique=True)
    sha256 = models.CharField(max_length=64, help_text="of the wheel, as the signed manifest says")
    size = models.PositiveIntegerField(help_text="the bundle's bytes")
    manifest = models.JSONField(default=dict)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"eldergate {self.version}"


class Rollout(models.Model):
    release = models.ForeignKey(Release, on_delete=models.PROTECT, related_name="rollouts")
    state = models.CharField(max_length=10, default="running", choices=[(s, s) for s in ROLLOUT_STATES])
    stage = models.PositiveIntegerField(default=0, help_text="0: the canary; 1..: the waves")
    stages = models.PositiveIntegerField(default=1)
    canary_percent = models.FloatField()
    waves = models.PositiveIntegerField()
    check_s = models.FloatField(help_text="how long a stage has to prove healthy, and is watched after")
    stage_started_at = models.DateTimeField()
    stage_confirmed_at = models.DateTimeField(null=True, blank=True, help_text="every box of the stage confirmed")
    reason = models.CharField(max_length=300, blank=True, help_text="why it halted")
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"rollout {self.pk} of {self.release.version}"


class RolloutTarget(models.Model):
    rollout = models.ForeignKey(Rollout, on_delete=models.CASCADE, related_name="targets")
    gateway = models.ForeignKey(Gateway, on_delete=models.CASCADE, related_name="rollouts")
    stage = models.PositiveIntegerField()
    state = models.CharField(max_length=10, default="waiting", choices=[(s, s) for s in TARGET_STATES])
    sent_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True, help_text="the box's process start when it confirmed")
    result = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rollout", "gateway"], name="one_target_per_rollout")]
        indexes = [models.Index(fields=["rollout", "stage", "state"])]
