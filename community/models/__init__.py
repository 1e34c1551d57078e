"""The community server's data (Django models), one module per kind of thing."""

from eldergate.community.models.alerts import Alert, AlertState, Comment, EscalationJob, OutgoingAck
from eldergate.community.models.audit import AuditEntry, AuditPurge
from eldergate.community.models.deadletter import DeadLetter
from eldergate.community.models.fleet import BoxCommand, DiagnosticCapture
from eldergate.community.models.identity import BoxIdentity
from eldergate.community.models.lost import Badge, Locator, Position
from eldergate.community.models.people import ApiToken, DutyShift, LoginLink, Profile, Snooze, Visit
from eldergate.community.models.places import Community, Consent, Contact, Gateway, Home, Resident, Street
from eldergate.community.models.releases import Release, Rollout, RolloutTarget
from eldergate.community.models.telemetry import Event, Summary, VitalsLatest, VitalsMinute

__all__ = [
    "Alert",
    "AlertState",
    "ApiToken",
    "AuditEntry",
    "AuditPurge",
    "Badge",
    "BoxCommand",
    "BoxIdentity",
    "Comment",
    "Community",
    "Consent",
    "Contact",
    "DeadLetter",
    "DiagnosticCapture",
    "DutyShift",
    "EscalationJob",
    "Event",
    "Gateway",
    "Home",
    "Locator",
    "LoginLink",
    "OutgoingAck",
    "Position",
    "Profile",
    "Release",
    "Resident",
    "Rollout",
    "RolloutTarget",
    "Snooze",
    "Street",
    "Summary",
    "Visit",
    "VitalsLatest",
    "VitalsMinute",
]
