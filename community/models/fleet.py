"""What the community asks of a box from afar, and what came of it (work/box_commands.py)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from eldergate.community.models.places import Gateway

COMMANDS = ("test_alert", "status", "restart", "diagnostics")
# a diagnostics command may ask for the box's last minutes of capture: its raw waveforms withheld,
# or with them (only with every resident's recorded consent: work/consent.py, RAW_WAVEFORMS)
CAPTURES = ("", "no_waveforms", "raw_waveforms")


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
    capture = models.CharField(max_length=14, blank=True, default="", choices=[(c, c or "none") for c in CAPTURES],
                               help_text="diagnostics: the capture asked for")

    class Meta:
        indexes = [models.Index(fields=["done_at", "sent_at"])]
        ordering = ["-created_at", "-pk"]


class DiagnosticCapture(models.Model):
    """The capture a box posted for a diagnostics command: gzip'd capture lines (``eldergate
    replay`` reads them), encrypted at rest with the data key, kept ``KEPT_DAYS`` (work/retention.py)."""

    command = models.OneToOneField(BoxCommand, on_delete=models.CASCADE, related_name="upload")
    received_at = models.DateTimeField()
    raw_waveforms = models.BooleanField(help_text="the box says it holds raw waveforms")
    size = models.PositiveIntegerField(help_text="bytes, gzip'd, as the box sent them")
    span_s = models.FloatField(help_text="the time the capture covers")
    sealed = models.BinaryField(help_text="Fernet token of the gzip'd capture (models/crypto.py)")
