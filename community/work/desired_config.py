"""Each home's desired configuration: the server's registry is the source of truth for what it knows
better than the box (residents' birth years, thresholds and night hours, whether they are at risk
of getting lost, the contacts in their order), and each box is sent its home's document on its
own ``config`` leaf (contract/desired_config.py), retained, so that a box offline now applies it
when it returns.

A change (``change_resident``) raises the home's ``config_version`` in the same transaction that
stores it and is audited; the publisher (``publish_due``, run by the timers every tick) sends the
new document to every box of the home whose last sent version is older; the box reports the
version in effect, or the one it refused and why, in its retained status (ingest/store.py).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F, QuerySet
from pydantic import ValidationError

from eldergate.community.models import Contact, Gateway, Home, Resident
from eldergate.community.models.audit import record
from eldergate.community.work.publisher import Publisher
from eldergate.contract.desired_config import ConfigMessage, DesiredContact, DesiredResident, ThresholdChanges
from eldergate.contract.messages import topic

log = logging.getLogger(__name__)
# the server's contact roles as the box knows them (config/schema.py ContactRole)
BOX_ROLE = {"child": "relative", "relative": "relative", "doctor": "relative", "neighbour": "volunteer",
            "volunteer": "volunteer", "grid-worker": "grid_worker"}
PUBLISH_BATCH = 2000  # boxes per tick at most: a city-wide change is spread over a few ticks


def document(home: Home, gateway: Gateway) -> ConfigMessage:
    """The home's document for one of its boxes. A row the contract cannot carry (a push address
    typed into the admin, a resident id of another system) is left out and logged, never the whole
    document: one bad row must not hold every other box's change."""
    residents = []
    for r in sorted(home.residents.all(), key=lambda r: r.pk):
        contacts = []
        for c in r.contacts.all():
            if c.notify_url:
                try:
                    contacts.append(DesiredContact(order=c.order, role=BOX_ROLE.get(c.role, "relative"),
                                                   phone=c.phone, notify=c.notify_url))
                except ValidationError as err:
                    _skipped(gateway, f"contact {c.pk}", err)
        try:
            residents.append(DesiredResident(
                id=r.resident_id, birth_year=r.birth_year, at_risk_of_getting_lost=r.at_risk_of_getting_lost,
                thresholds=ThresholdChanges.model_validate(r.thresholds or {}), contacts=contacts or None))
        except ValidationError as err:
            _skipped(gateway, f"resident {r.pk}", err)
    return ConfigMessage(site=gateway.site, gateway=gateway.gateway, sent_at=time.time(), version=home.config_version,
                         residents=residents)


def _skipped(gateway: Gateway, what: str, err: ValidationError) -> None:
    first = err.errors(include_url=False)[0]  # the field and why; never the value (a push URL is a secret)
    log.warning("%s/%s: %s left out of its configuration: %s %s", gateway.site, gateway.gateway, what,
                ".".join(str(p) for p in first["loc"]), first["msg"])


def changed(home: Home, at: datetime, actor: Any, what: str, **details: Any) -> int:
    """Raise the home's version (inside the caller's transaction); the new version."""
    Home.objects.filter(pk=home.pk).update(config_version=F("config_version") + 1)
    home.refresh_from_db(fields=["config_version"])
    record(at, actor, "config_changed", home, what=what, version=home.config_version, **details)
    return home.config_version


def change_resident(resident: Resident, at: datetime, actor: Any, *, thresholds: ThresholdChanges | None = None,
                    contacts: list[dict[str, Any]] | None = None) -> int:
    """Store a change of a resident's thresholds (merged over what was set) and/or contacts (the
    whole ordered list replaces the old one); the home's new desired version."""
    with transaction.atomic():
        what = []
        if thresholds is not None and thresholds.changes():
            merged = {**(resident.thresholds or {}), **thresholds.model_dump(mode="json", exclude_none=True)}
            ThresholdChanges.model_validate(merged)  # still within the contract's bounds together
            resident.thresholds = merged
            resident.save(update_fields=["thresholds"])
            what.append("thresholds")
        if contacts is not None:
            resident.contacts.all().delete()
            Contact.objects.bulk_create([Contact(resident=resident, **c) for c in contacts])
            what.append("contacts")
        if not what:
            return resident.home.config_version
        return changed(resident.home, at, actor, "+".join(what), resident=resident.pk)


def resend(homes: QuerySet[Home], at: datetime, actor: Any, why: str) -> int:
    """Every home's whole document again, as a new version (a community-wide change, a restored
    backup): one statement, audited once; the publisher sends them."""
    with_boxes = homes.filter(gateways__isnull=False).values("pk")
    n = Home.objects.filter(pk__in=with_boxes).update(config_version=F("config_version") + 1)
    record(at, actor, "config_resent", "homes:" + str(n), why=why)
    return n


def publish_due(publisher: Publisher, prefix: str) -> int:
    """Send each box whose home's version moved its new document (retained, QoS 1); a batch's
    homes, residents and contacts are read in three queries, not three per box."""
    due = list(Gateway.objects.filter(home__isnull=False, config_sent_version__lt=F("home__config_version"))
               .order_by("pk")[:PUBLISH_BATCH])
    homes = Home.objects.prefetch_related("residents__contacts").in_bulk({g.home_id for g in due})
    sent = 0
    for g in due:
        home = homes.get(g.home_id or -1)
        if home is None:
            continue  # moved out of its home since the look
        doc = document(home, g)
        payload = doc.model_dump_json(exclude_none=True)  # an unset threshold is the box's own
        if not publisher.publish(topic(prefix, g.site, g.gateway, "config"), payload, qos=1, retain=True):
            break  # the broker is away: the next tick tries again
        Gateway.objects.filter(pk=g.pk).update(config_sent_version=doc.version)
        sent += 1
    return sent
