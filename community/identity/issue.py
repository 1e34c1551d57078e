"""Issuing, claiming, collecting and revoking box identities (the database side; the broker learns
of every change from ``broker.py`` within seconds).

A claim: the box shows a one-time code; an installer types it into the console for the home the
box is in; the server issues the identity for that home's (site, gateway); the box, which polls
with the code and a key it never shows, collects its credentials once. The first key to collect
binds the claim: another device with the same code (read off the screen) is refused. Claiming a
home's gateway again (a replaced box) revokes the identity it had."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction

from eldergate.community.models import Gateway
from eldergate.community.models.audit import record
from eldergate.community.models.crypto import decrypt
from eldergate.community.models.identity import BoxIdentity, box_username, code_digest, site_username
from eldergate.contract.claims import valid_code

CLAIM_TTL = timedelta(hours=24)  # a claim not collected by then is void: the box shows a new code


class IdentityError(ValueError):
    """A request that cannot be honoured, in words for the person who made it."""


@dataclass(frozen=True, slots=True)
class Issued:
    identity: BoxIdentity
    password: str


@dataclass(frozen=True, slots=True)
class Collected:
    status: str  # pending | issued | refused
    username: str = ""
    password: str = ""
    why: str = ""


def _key_digest(box_key: str) -> str:
    return hashlib.sha256(("box-key:" + box_key).encode()).hexdigest()


def _revoke_live(username: str, by: str, now: datetime, reason: str) -> BoxIdentity | None:
    live = BoxIdentity.objects.select_for_update().filter(username=username, revoked_at__isnull=True).first()
    if live is None:
        return None
    gw = live.gateway
    live.revoked_at, live.revoked_by, live.reason, live.applied = now, by[:150], reason[:200], False
    live.unsent_at_revoke = gw.unsent_alerts if gw is not None else None
    live.save(update_fields=["revoked_at", "revoked_by", "reason", "applied", "unsent_at_revoke"])
    return live


def issue(site: str, gateway: str, by: Any, now: datetime, *, kind: str = BoxIdentity.Kind.PASSWORD,
          claim_code: str = "", reason: str = "replaced by a new identity") -> Issued:
    """A new identity for the box (site, gateway), revoking the one it had. ``gateway`` empty: a
    site-wide identity for a simulator or test rig."""
    username = box_username(site, gateway) if gateway else site_username(site)
    password = secrets.token_urlsafe(24) if kind == BoxIdentity.Kind.PASSWORD else ""
    actor = by.get_username() if hasattr(by, "get_username") else str(by)
    with transaction.atomic():
        old = _revoke_live(username, actor, now, reason)
        gw = Gateway.objects.filter(site=site, gateway=gateway).first() if gateway else None
        try:
            ident = BoxIdentity.objects.create(
                username=username, site=site, box_id=gateway, gateway=gw, kind=kind, secret=password,
                claim_digest=code_digest(claim_code) if claim_code else "", issued_at=now, issued_by=actor[:150])
        except IntegrityError:
            raise IdentityError(f"{username} was given an identity at the same moment; try again") from None
        record(now, by, "identity_issued", ident, username=username, claim=bool(claim_code),
               replaced=old.pk if old is not None else None)
    return Issued(ident, password)


def claim(code: str, site: str, gateway: str, by: Any, now: datetime) -> BoxIdentity:
    """An installer claims the box showing ``code`` for the home whose gateway is (site, gateway)."""
    if not valid_code(code):
        raise IdentityError("that is not a claim code: it has 10 letters and digits, as the box shows it")
    digest = code_digest(code)
    if BoxIdentity.objects.filter(claim_digest=digest, revoked_at__isnull=True, issued_at__gt=now - CLAIM_TTL).exists():
        raise IdentityError("this code has been claimed already")
    if not Gateway.objects.filter(site=site, gateway=gateway).exists():
        raise IdentityError(f"no gateway {site}/{gateway} in the registry: register the home first")
    return issue(site, gateway, by, now, claim_code=code, reason="the home's box was claimed again").identity


def collect(code: str, box_key: str, site: str, gateway: str, now: datetime, broker_checks: bool = True) -> Collected:
    """What the box polling with ``code`` gets: its credentials once claimed and, where the broker
    checks identities, once the broker has them (a box given them earlier would be refused and
    back off for minutes); again, to the same box key, if the first answer was lost; ``pending``
    before; ``refused`` for anyone else."""
    if not valid_code(code) or not 16 <= len(box_key) <= 128:
        return Collected("refused", why="malformed claim code or box key")
    with transaction.atomic():
        ident = (BoxIdentity.objects.select_for_update()
                 .filter(claim_digest=code_digest(code), issued_at__gt=now - CLAIM_TTL).order_by("-pk").first())
        if ident is None:
            return Collected("pending")
        if ident.revoked_at is not None:
            return Collected("refused", why="this claim was revoked: the box shows a new code")
        if (ident.site, ident.box_id) != (site, gateway):
            return Collected("refused", why=f"the code was claimed for {ident.site}/{ident.box_id}, but this box "
                                            f"is configured as {site}/{gateway}")
        if broker_checks and not ident.applied:
            return Collected("pending", why="claimed; the broker is being given the identity")
        key = _key_digest(box_key)
        if ident.collected_at is not None and ident.box_key_digest != key:
            return Collected("refused", why="another device has collected these credentials: claim the box again")
        if ident.collected_at is None:
            ident.collected_at, ident.box_key_digest = now, key
            ident.save(update_fields=["collected_at", "box_key_digest"])
            record(now, "gateway", "identity_collected", ident, username=ident.username)
        return Collected("issued", ident.username, decrypt(ident.secret))


def revoke(username: str, by: Any, now: datetime, reason: str = "revoked") -> BoxIdentity:
    actor = by.get_username() if hasattr(by, "get_username") else str(by)
    with transaction.atomic():
        gone = _revoke_live(username, actor, now, reason)
        if gone is None:
            raise IdentityError(f"{username} has no live identity")
        record(now, by, "identity_revoked", gone, username=username, reason=reason,
               unsent_alerts=gone.unsent_at_revoke)
    return gone


def username_of(ref: str) -> str:
    """``site/gateway`` or ``site.gateway`` (a box), ``site:all`` (a site-wide identity)."""
    if ":" in ref:
        return ref
    site, sep, gw = ref.replace("/", ".").partition(".")
    if not sep or not site or not gw:
        raise IdentityError(f"{ref!r}: name a box as SITE/GATEWAY")
    return box_username(site, gw)
