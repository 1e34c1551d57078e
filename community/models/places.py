"""Where people live: streets (街道), communities (社区), homes, their gateways and residents."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models

from eldergate.community.models.crypto import EncryptedTextField


def _wall_key() -> str:
    return secrets.token_urlsafe(16)


class Street(models.Model):
    name = models.CharField(max_length=100, unique=True)

    def __str__(self) -> str:
        return self.name


class Community(models.Model):
    class WallNames(models.TextChoices):
        FULL = "full", "full name"
        SURNAME = "surname", "surname + 婆婆/爷爷 + house number"

    code = models.SlugField(max_length=50, unique=True, help_text="also the gateways' site id")
    name = models.CharField(max_length=100)
    street = models.ForeignKey(Street, on_delete=models.PROTECT, related_name="communities")
    ack_target_s = models.PositiveIntegerField(default=300, help_text="acknowledge within (seconds)")
    arrive_target_s = models.PositiveIntegerField(default=2700, help_text="arrive within (seconds)")
    monthly_visit_target = models.PositiveIntegerField(default=1)
    wall_names = models.CharField(max_length=10, choices=WallNames.choices, default=WallNames.SURNAME)
    wall_medical = models.BooleanField(default=False, help_text="show medical notes on the public wall")
    relatives_may_handle = models.BooleanField(default=True)
    wall_key = models.CharField(max_length=64, default=_wall_key, help_text="the wall screen's address carries it: "
                                "/wall?key=... (change it to revoke a screen)")
    hotline = models.CharField(max_length=30, blank=True, help_text="the community's phone, shown to a finder")
    outdoor_temperature_c = models.FloatField(null=True, blank=True,
                                              help_text="outdoors now (eldergate community weather): outings run "
                                              "short in the cold")
    outdoor_temperature_at = models.DateTimeField(null=True, blank=True)
    outdoor_sent_at = models.DateTimeField(null=True, blank=True, help_text="when the homes were last told")

    class Meta:
        verbose_name_plural = "communities"

    def __str__(self) -> str:
        return self.name


class Home(models.Model):
    class Mode(models.TextChoices):
        NORMAL = "normal", "normal"
        INSTALLATION = "installation", "installation / test (pages nobody)"

    community = models.ForeignKey(Community, on_delete=models.PROTECT, related_name="homes")
    address = models.CharField(max_length=200)
    building = models.CharField(max_length=20, blank=True)
    unit = models.CharField(max_length=20, blank=True)
    house_number = models.CharField(max_length=20, blank=True)
    keyholder = models.CharField(max_length=100, blank=True, help_text="who has a key (name and phone)")
    key_safe = EncryptedTextField(blank=True, help_text="key safe location and code (encrypted)")
    mode = models.CharField(max_length=20, choices=Mode.choices, default=Mode.NORMAL)
    config_version = models.PositiveIntegerField(default=0, help_text="the desired configuration's version, raised "
                                                 "by every change of its residents' settings (work/desired_config.py)")

    def __str__(self) -> str:
        return f"{self.address} {self.building}-{self.unit}-{self.house_number}".strip("- ")


class Gateway(models.Model):
    """A box in a home, known by the (site, gateway) pair of its topics. One that is not in the
    registry yet has no home: it is an "unknown gateway" until an admin adopts it, and its alerts
    are stored and receipted like any other."""

    site = models.CharField(max_length=64)
    gateway = models.CharField(max_length=64)
    home = models.ForeignKey(Home, null=True, blank=True, on_delete=models.SET_NULL, related_name="gateways")
    first_seen = models.DateTimeField(null=True, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True, help_text="last fresh message of any kind")
    status = models.CharField(max_length=10, default="unknown")  # online | offline | unknown (retained status)
    status_at = models.DateTimeField(null=True, blank=True)
    offline = models.BooleanField(default=False, help_text="a home_offline alert is open for it")
    version = models.CharField(max_length=40, blank=True)
    unsent_alerts = models.IntegerField(default=0)
    sensors = models.JSONField(default=dict, blank=True)  # sensor id -> ok | silent | offline
    last_test_sent = models.DateTimeField(null=True, blank=True)
    last_test_ok = models.DateTimeField(null=True, blank=True)
    config_sent_version = models.PositiveIntegerField(default=0, help_text="the home's configuration version last "
                                                      "published to this box (retained on its config leaf)")
    config_applied_version = models.PositiveIntegerField(default=0, help_text="in effect on the box, as its "
                                                         "status says (0: its TOML alone)")
    config_refused_version = models.PositiveIntegerField(default=0)
    config_refused = models.CharField(max_length=300, blank=True, help_text="the box's first reason, naming the field")
    started_at = models.DateTimeField(null=True, blank=True, help_text="its process's start, as its status says")
    update_version = models.CharField(max_length=40, blank=True, help_text="the last software update it was asked "
                                      "for, as its status says (work/rollouts.py)")
    update_state = models.CharField(max_length=12, blank=True, help_text="refused, installing, pending, confirmed, "
                                    "rolled_back or failed")
    update_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "gateway"], name="one_gateway_per_topic")]

    def __str__(self) -> str:
        return f"{self.site}/{self.gateway}"


class Resident(models.Model):
    home = models.ForeignKey(Home, on_delete=models.PROTECT, related_name="residents")
    resident_id = models.CharField(max_length=64, help_text="the id the gateway uses (never the name)")
    name = models.CharField(max_length=100)
    surname = models.CharField(max_length=20, blank=True)
    sex = models.CharField(max_length=1, choices=[("f", "female"), ("m", "male")], blank=True)
    birth_year = models.PositiveIntegerField(null=True, blank=True)
    photo = models.FileField(upload_to="photos/", null=True, blank=True)
    medical_history = EncryptedTextField(blank=True)
    medications = EncryptedTextField(blank=True)
    allergies = EncryptedTextField(blank=True)
    # for finding a resident who is lost (a finder's scan, not back): shown on that alert's page only
    appearance = EncryptedTextField(blank=True, help_text="how they look: height, hair, usual clothes, a walking aid")
    calming = EncryptedTextField(blank=True, help_text="what calms them, what to avoid, the dialect they speak")
    at_risk_of_getting_lost = models.BooleanField(default=False)
    thresholds = models.JSONField(default=dict, blank=True, help_text="the box's thresholds the server sets "
                                  "(contract/desired_config.py ThresholdChanges), e.g. night_start")
    grid_worker = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    volunteer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["home", "resident_id"], name="one_resident_id_per_home")]

    def __str__(self) -> str:
        return f"resident {self.pk}"  # never the name: this string reaches logs

    def key(self) -> str:
        gw = self.home.gateways.first()
        return f"{gw.site}/{gw.gateway}/{self.resident_id}" if gw else f"-/-/{self.resident_id}"

    def incomplete(self) -> list[str]:
        """What a grid worker must still find out (shown as flags on the record)."""
        flags = []
        if not any(c.consent_to_call for c in self.contacts.all()):
            flags.append("no emergency contact")
        if not self.home.keyholder and not any(c.is_keyholder for c in self.contacts.all()):
            flags.append("no keyholder")
        if self.grid_worker_id is None:
            flags.append("no grid worker assigned")
        return flags


class Contact(models.Model):
    class Role(models.TextChoices):
        CHILD = "child", "child"
        RELATIVE = "relative", "other relative"
        NEIGHBOUR = "neighbour", "neighbour"
        VOLUNTEER = "volunteer", "volunteer"
        GRID_WORKER = "grid-worker", "grid worker"
        DOCTOR = "doctor", "family doctor"

    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="contacts")
    order = models.PositiveIntegerField(default=1)
    name = models.CharField(max_length=100)
    phone = models.CharField(max_length=30, blank=True)
    role = models.CharField(max_length=20, choices=Role.choices)
    consent_to_call = models.BooleanField(default=False)
    is_keyholder = models.BooleanField(default=False)
    notify_url = models.CharField(max_length=500, blank=True, help_text="Apprise URL for escalation pushes")

    class Meta:
        ordering = ["order", "pk"]


class Consent(models.Model):
    """PIPL Art. 29: separate consent for sensitive data, recorded: who, when, for what."""

    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="consents")
    scope = models.CharField(max_length=100, help_text="e.g. monitoring, medical registry, wall display")
    given_by = models.CharField(max_length=100, help_text="the resident or their guardian")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    given_at = models.DateTimeField()
    withdrawn_at = models.DateTimeField(null=True, blank=True)
