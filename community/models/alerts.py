"""Alerts and everything that happens to them: state history, comments, escalation steps, and
acknowledgements on their way to the gateway."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from eldergate.community.models.places import Community, Gateway, Resident

# The workflow, in order. A gateway's "delivered" is kept in the history but moves nothing.
STATES = ("raised", "received", "acknowledged", "on_the_way", "arrived", "resolved")
RANK = {s: i for i, s in enumerate(STATES)}
OUTCOMES = ("false_alarm", "resident_fine", "helped", "ambulance_called", "not_at_home", "device_fault", "other")
OPEN_STATES = STATES[:-1]


class Alert(models.Model):
    alert_id = models.CharField(max_length=100, help_text="the gateway's id, the same across resends; unique only "
                                                         "within its gateway (a box names its own alerts, no other's)")
    gateway = models.ForeignKey(Gateway, on_delete=models.PROTECT, related_name="alerts")
    community = models.ForeignKey(Community, null=True, blank=True, on_delete=models.PROTECT, related_name="alerts")
    resident = models.ForeignKey(Resident, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts")
    resident_key = models.CharField(max_length=64, help_text="the gateway's resident id")
    kind = models.CharField(max_length=40)
    severity = models.CharField(max_length=10)
    room = models.CharField(max_length=64, blank=True)
    sensor = models.CharField(max_length=64, blank=True)
    title_zh = models.CharField(max_length=200, blank=True)
    title_en = models.CharField(max_length=200, blank=True)
    evidence = models.JSONField(default=dict, blank=True)
    origin = models.CharField(max_length=10, default="gateway")  # gateway | server (home_offline)
    paged_by_gateway = models.JSONField(default=list, blank=True, help_text="the roles of the contacts the home's "
                                        "gateway paged itself: the server's ladder does not page them again")
    test = models.BooleanField(default=False, help_text="installation mode, a test alert or a snoozed home: "
                                                        "stored and shown, pages nobody")
    state = models.CharField(max_length=20, default="raised")
    raised_at = models.DateTimeField()
    received_at = models.DateTimeField(help_text="when the server first stored it")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.CharField(max_length=150, blank=True)
    on_way_at = models.DateTimeField(null=True, blank=True)
    arrived_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.CharField(max_length=150, blank=True)
    cleared_at = models.DateTimeField(null=True, blank=True, help_text="the gateway saw the condition end")
    outcome = models.CharField(max_length=20, blank=True, choices=[(o, o) for o in OUTCOMES])
    note = models.TextField(blank=True)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="assigned_alerts")
    group_key = models.CharField(max_length=250, db_index=True, help_text="site/gateway/resident/kind")
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["gateway", "alert_id"], name="alert_id_per_gateway")]
        indexes = [models.Index(fields=["community", "state"]), models.Index(fields=["received_at"]),
                   models.Index(fields=["alert_id"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.alert_id}"

    @property
    def ref(self) -> str:
        """The alert's address in URLs and the API: ``site.gateway.alert_id`` (ids hold no dot)."""
        return f"{self.gateway.site}.{self.gateway.gateway}.{self.alert_id}"

    @property
    def is_open(self) -> bool:
        return self.state != "resolved"


class AlertState(models.Model):
    """One row per (alert, state): the unique key makes a resend a no-op, in the database, not in memory."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="history")
    state = models.CharField(max_length=20)
    at = models.DateTimeField()
    by = models.CharField(max_length=150, blank=True)
    source = models.CharField(max_length=10)  # gateway | person | server

    class Meta:
        constraints = [models.UniqueConstraint(fields=["alert", "state"], name="each_state_once")]
        ordering = ["at", "pk"]


class Comment(models.Model):
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField()
    text = models.TextField()

    class Meta:
        ordering = ["at", "pk"]


class EscalationJob(models.Model):
    """One step of an alert's ladder; claimed once (FOR UPDATE SKIP LOCKED on PostgreSQL) and
    checked against the alert's state in the same transaction."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="escalation")
    step = models.PositiveIntegerField()
    target = models.CharField(max_length=20)
    due_at = models.DateTimeField(db_index=True)
    done_at = models.DateTimeField(null=True, blank=True)
    result = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["alert", "step"], name="each_step_once")]
        ordering = ["due_at", "step"]


class OutgoingAck(models.Model):
    """A person's acknowledgement on its way to the gateway: resent, backing off, until the gateway
    confirms it on ``acked`` (its confirmation stops the gateway's own push escalation)."""

    alert = models.OneToOneField(Alert, on_delete=models.CASCADE, related_name="outgoing_ack")
    by = models.CharField(max_length=150)
    next_at = models.DateTimeField(db_index=True)
    wait_s = models.FloatField(default=1.0)
    sent = models.PositiveIntegerField(default=0)
    confirmed_at = models.DateTimeField(null=True, blank=True)
