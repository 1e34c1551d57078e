"""What the homes report besides alerts. Vitals are the latest value per resident plus per-minute
aggregates, never a row per message (100,000 homes every 10 s is 10,000 messages a second)."""

from __future__ import annotations

from django.db import models

from eldergate.community.models.places import Gateway


class Event(models.Model):
    gateway = models.ForeignKey(Gateway, on_delete=models.CASCADE, related_name="events")
    resident_key = models.CharField(max_length=64)
    name = models.CharField(max_length=60)
    t = models.DateTimeField(db_index=True)
    room = models.CharField(max_length=64, blank=True)
    sensor = models.CharField(max_length=64, blank=True)
    value = models.FloatField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["gateway", "resident_key", "name", "t", "sensor"],
                                               name="each_event_once")]


class VitalsLatest(models.Model):
    gateway = models.ForeignKey(Gateway, on_delete=models.CASCADE, related_name="+")
    resident_key = models.CharField(max_length=64)
    t = models.DateTimeField()
    heart_rate_bpm = models.FloatField(null=True)
    breathing_rate_bpm = models.FloatField(null=True)
    quality = models.FloatField(null=True)
    in_bed = models.BooleanField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["gateway", "resident_key"], name="latest_per_resident")]


class VitalsMinute(models.Model):
    gateway = models.ForeignKey(Gateway, on_delete=models.CASCADE, related_name="+")
    resident_key = models.CharField(max_length=64)
    minute = models.DateTimeField(db_index=True)
    n = models.PositiveIntegerField(default=0)
    hr_n = models.PositiveIntegerField(default=0)
    hr_sum = models.FloatField(default=0)
    hr_min = models.FloatField(null=True)
    hr_max = models.FloatField(null=True)
    br_n = models.PositiveIntegerField(default=0)
    br_sum = models.FloatField(default=0)
    br_min = models.FloatField(null=True)
    br_max = models.FloatField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["gateway", "resident_key", "minute"], name="one_row_a_minute")]


class Summary(models.Model):
    gateway = models.ForeignKey(Gateway, on_delete=models.CASCADE, related_name="summaries")
    resident_key = models.CharField(max_length=64)
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    figures = models.JSONField(default=dict)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["gateway", "resident_key", "period_start"],
                                               name="one_summary_per_period")]
