"""What the community asks of a box from afar, and what came of it (work/box_commands.py)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from eldergate.community.models.places import Gateway

COMMANDS = ("test_alert", "status", "restart", "diagnostics")


class BoxCommand(models.Model):
    gateway = models.ForeignKey(Gateway, on_delete=models.CASCADE, related_name="commands")
    command = models.CharField(max_length=20, choices=[(c, c) for c in COMMANDS])
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True, help_text="published to the box's cmd leaf")
    done_at = models.DateTimeField(null=True, blank=True, help_text="the box's answer arrived, or it timed out")
    ok = models.BooleanField(null=True, help_text="None while waiting")
    result = models.CharField(max_length=300, blank=True)
    report = models.JSONField(default=dict, blank=True, help_text="diagnostics: the box's report, as it sent it")

    class Meta:
        indexes = [models.Index(fields=["done_at", "sent_at"])]
        ordering = ["-created_at", "-pk"]
