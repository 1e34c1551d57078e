"""Messages the ingest could not store: kept for the platform operator, replayable after a fix.

One row per (gateway, topic leaf, payload digest): a box that sends the same bad message again and
again costs one row and a count, not a table. The payload is kept whole up to the contract's size
limit (larger ones were refused before they got here)."""

from __future__ import annotations

from django.db import models


class DeadLetter(models.Model):
    site = models.CharField(max_length=64, help_text="from the topic (the payload may be unreadable)")
    gateway = models.CharField(max_length=64)
    leaf = models.CharField(max_length=16)
    digest = models.CharField(max_length=64, help_text="sha256 of the payload")
    payload = models.BinaryField()
    size = models.PositiveIntegerField(help_text="bytes as received")
    reason = models.CharField(max_length=300)
    count = models.PositiveIntegerField(default=1)
    first_at = models.DateTimeField()
    last_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "gateway", "leaf", "digest"], name="each_letter_once")]
        indexes = [models.Index(fields=["site", "gateway"])]

    def __str__(self) -> str:
        return f"{self.site}/{self.gateway}/{self.leaf}: {self.reason}"
