"""Where a message the ingest could not store goes: the dead-letter table, visible to the platform
operator (``eldergate community dead-letters``), replayable once the cause is fixed.

A message is dead-lettered for what it is (off-contract, dated outside the window, or it made the
store fail); the batch it came in goes on without it, and the broker forgets it only after this
row is committed, like a stored message.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Count, F

from eldergate.community.config import CommunityConfig
from eldergate.community.models import DeadLetter
from eldergate.community.models.audit import record


@dataclass(frozen=True)
class Letter:
    site: str
    gateway: str
    leaf: str
    payload: bytes
    reason: str


class Graveyard:
    """Writes dead letters, at most ``dead_letters_per_gateway`` rows per gateway (further ones are
    only counted: a box sending endless different garbage must not fill the disk)."""

    def __init__(self, cfg: CommunityConfig) -> None:
        self.cap = cfg.ingest.dead_letters_per_gateway
        self.max_bytes = cfg.ingest.max_payload_bytes
        self._rows: dict[tuple[str, str], int] = {}  # rows per gateway, read once, then counted here

    def bury(self, letters: list[Letter], now: datetime) -> int:
        """Store them (one transaction); the number not kept because their gateway is at its cap."""
        over = 0
        with transaction.atomic():
            for letter in letters:
                key = (letter.site[:64], letter.gateway[:64])
                digest = hashlib.sha256(letter.payload).hexdigest()
                n = (DeadLetter.objects.filter(site=key[0], gateway=key[1], leaf=letter.leaf[:16], digest=digest)
                     .update(count=F("count") + 1, last_at=now, reason=letter.reason[:300]))
                if n:
                    continue
                rows = self._rows.get(key)
                if rows is None or rows >= self.cap:  # read again at the cap: an operator may have replayed some
                    rows = DeadLetter.objects.filter(site=key[0], gateway=key[1]).count()
                if rows >= self.cap:
                    over += 1
                    continue
                DeadLetter.objects.create(site=key[0], gateway=key[1], leaf=letter.leaf[:16], digest=digest,
                                          payload=letter.payload[:self.max_bytes], size=len(letter.payload),
                                          reason=letter.reason[:300], first_at=now, last_at=now)
                self._rows[key] = rows + 1
        return over


def listing(limit: int = 100) -> list[DeadLetter]:
    return list(DeadLetter.objects.order_by("-last_at", "-pk")[:limit])


def by_gateway() -> list[tuple[str, str, int]]:
    rows = DeadLetter.objects.values("site", "gateway").annotate(rows=Count("pk")).order_by("-rows")[:100]
    return [(r["site"], r["gateway"], int(r["rows"])) for r in rows]


def forget(pks: list[int], now: datetime, actor: str) -> int:
    with transaction.atomic():
        n = DeadLetter.objects.filter(pk__in=pks).delete()[0]
        record(now, actor, "dead_letters_removed", "dead_letters:", count=n)
    return n


def replay(pks: list[int] | None, now: datetime, cfg: CommunityConfig) -> tuple[int, int]:
    """Store the letters again as the ingest would: (stored now and removed, still refused)."""
    from eldergate.community.ingest.store import Incoming, store_many

    stored = still = 0
    qs = DeadLetter.objects.order_by("pk")
    for d in (qs.filter(pk__in=pks) if pks is not None else qs).iterator():
        try:
            out = store_many([Incoming(d.leaf, d.site, d.gateway, bytes(d.payload))], now, cfg)[0]
            why = out.malformed or out.refused
        except Exception as err:  # noqa: BLE001  (the cause is not fixed yet: keep the letter, say why)
            why = f"the store failed: {type(err).__name__}: {(str(err).splitlines() or [''])[0][:200]}"
        if why is None:
            d.delete()
            stored += 1
        else:
            DeadLetter.objects.filter(pk=d.pk).update(reason=why[:300], last_at=now)
            still += 1
    if stored:
        record(now, "operator", "dead_letters_replayed", "dead_letters:", stored=stored)
    return stored, still
