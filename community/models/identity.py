"""Who may speak for a box on the broker: one identity per box, bound to its (site, gateway).

An identity is issued when an installer claims a box with its one-time code (or by an operator's
command), and revoked when the box is removed or replaced. The broker learns both from the server
(``community/identity/broker.py``): ``applied`` says whether the broker already has this row's
state. The password is kept encrypted with the data key, so that a broker whose own store was lost
can be given every identity again; only the digest of a claim code is kept."""

from __future__ import annotations

import hashlib

from django.db import models

from eldergate.community.models.crypto import EncryptedTextField
from eldergate.community.models.places import Gateway
from eldergate.contract.claims import normal_code


def box_username(site: str, gateway: str) -> str:
    """Ids have no dots (contract/bounds.py): ``site.gateway`` names exactly one box."""
    return f"{site}.{gateway}"


def site_username(site: str) -> str:
    """A whole site's identity (a contract-level simulator, a test rig): ``:`` is in no id."""
    return f"{site}:all"


def code_digest(code: str) -> str:
    return hashlib.sha256(normal_code(code).encode()).hexdigest()


class BoxIdentity(models.Model):
    class Kind(models.TextChoices):
        PASSWORD = "password", "username and password"
        CERTIFICATE = "certificate", "client certificate (CN = username)"

    username = models.CharField(max_length=140, help_text="site.gateway for a box; site:all for a site-wide tool")
    site = models.CharField(max_length=64)
    box_id = models.CharField(max_length=64, blank=True, help_text="the gateway id; empty: every gateway of the site")
    gateway = models.ForeignKey(Gateway, null=True, blank=True, on_delete=models.SET_NULL, related_name="identities")
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.PASSWORD)
    secret = EncryptedTextField(blank=True, help_text="the broker password (encrypted with the data key)")
    claim_digest = models.CharField(max_length=64, blank=True, db_index=True, help_text="sha256 of the claim code")
    issued_at = models.DateTimeField()
    issued_by = models.CharField(max_length=150)
    collected_at = models.DateTimeField(null=True, blank=True, help_text="the box fetched its credentials")
    box_key_digest = models.CharField(max_length=64, blank=True, help_text="the collecting box's key (sha256)")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.CharField(max_length=150, blank=True)
    reason = models.CharField(max_length=200, blank=True)
    unsent_at_revoke = models.IntegerField(null=True, blank=True,
                                           help_text="alerts the box reported unsent in its last status")
    applied = models.BooleanField(default=False, db_index=True, help_text="the broker has this row's state")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["username"], condition=models.Q(revoked_at__isnull=True),
                                               name="one_live_identity_per_username")]

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def __str__(self) -> str:
        return f"{self.username} ({'active' if self.active else 'revoked'})"
