"""Consent (PIPL Art. 28-29: health data is sensitive personal information and needs separate,
recorded consent): who gave it, when, for what, recorded by whom; withdrawal ends it.

Scopes: MONITORING (vitals, nightly figures and trends shown to the people who care for the
resident), WALL (the resident on the community's wall screen: state, alerts, and vitals under
MONITORING too), RAW_WAVEFORMS (a box's diagnostic capture may carry the radar's raw breathing
and heart waveforms: work/diagnostic_captures.py). Alerts are raised and routed whatever is
recorded: a fall is handled to protect the resident's life (PIPL Art. 13(4)), which needs no
consent."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction

from eldergate.community.models import Consent, Resident
from eldergate.community.models.audit import record

MONITORING = "monitoring"
RAW_WAVEFORMS = "raw_waveforms"
SCOPES = (MONITORING, RAW_WAVEFORMS)


def live(resident_ids: Iterable[int], scope: str, at: datetime) -> set[int]:
    """The residents among ``resident_ids`` with a live consent for ``scope`` at ``at``."""
    return set(Consent.objects.filter(resident_id__in=list(resident_ids), scope=scope, given_at__lte=at)
               .exclude(withdrawn_at__lte=at).values_list("resident_id", flat=True))


def monitoring_consent(resident: Resident, at: datetime) -> bool:
    return resident.pk in live([resident.pk], MONITORING, at)


def give(resident: Resident, scope: str, given_by: str, by: Any, at: datetime) -> Consent:
    with transaction.atomic():
        c = Consent.objects.create(resident=resident, scope=scope, given_by=given_by[:100], given_at=at,
                                   recorded_by=by if hasattr(by, "get_username") else None)
        record(at, by, "consent_given", resident, scope=scope, consent=c.pk)
    return c


def withdraw(resident: Resident, scope: str, by: Any, at: datetime) -> int:
    with transaction.atomic():
        n = (Consent.objects.filter(resident=resident, scope=scope, withdrawn_at__isnull=True)
             .update(withdrawn_at=at))
        record(at, by, "consent_withdrawn", resident, scope=scope, consents=n)
    return n
