"""What every ingest does with a batch, whatever broker it came through: store it in one
transaction, then receipt the alerts it holds, then (the caller) acknowledge it to the broker.

The order is the promise: a receipt is only ever sent for what is committed, and the broker only
forgets a message once it is committed (stored, or dead-lettered), so a worker killed at any
moment loses nothing (the broker redelivers, the gateways resend, the unique keys make the repeat
harmless).

One message never costs the others: a batch that fails for anything but the database being
unreachable is stored again one message per transaction, and the one that fails alone is
dead-lettered (``deadletters.py``). Only a database that cannot be reached stops the batch, which
then waits and goes again, unacknowledged.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections import Counter

from django.db import DatabaseError, InterfaceError, OperationalError, connection

from eldergate.community.clock import Clock
from eldergate.community.config import CommunityConfig
from eldergate.community.ingest.deadletters import Graveyard, Letter
from eldergate.community.ingest.quota import Quotas
from eldergate.community.ingest.store import Incoming, Outcome, store_many
from eldergate.community.work import acks
from eldergate.community.work.publisher import Publisher
from eldergate.contract.messages import topic

log = logging.getLogger("eldergate.community.ingest")
BATCH = 200  # messages per transaction at most: one commit (one fsync) for a burst


def unreachable(err: BaseException) -> bool:
    """The database cannot be used now (down, restarting, out of connections): wait and retry.
    Anything else a message made happen is that message's fault."""
    return isinstance(err, OperationalError | InterfaceError) and "deadlock detected" not in str(err)


class BatchStore:
    def __init__(self, cfg: CommunityConfig, clock: Clock, publisher: Publisher) -> None:
        self.cfg, self.clock, self.publisher = cfg, clock, publisher
        # stored, duplicate, receipts, dead_lettered, refused_*, errors, batches
        self.counts: Counter[str] = Counter()
        self.quotas = Quotas(cfg.ingest)
        self._warned: set[tuple[str, str, str]] = set()
        self._graveyard = Graveyard(cfg)
        self._admitted: list[float] = []  # when unknown gateways were quarantined, the last minute's

    def store_batch(self, items: list[Incoming]) -> bool:
        """Store (or dead-letter) and receipt; False when the database cannot be reached (nothing
        receipted, nothing to be acknowledged: the caller tries again)."""
        try:
            outcomes = self._store(items)
            self._bury(items, outcomes)
        except Exception as err:
            if unreachable(err):
                self.counts["errors"] += len(items)
                log.error("could not store %d message(s): %s", len(items), _first_line(err))
                connection.close()  # the next try reconnects
                return False
            raise
        self._receipt(items, outcomes)
        return True

    def _store(self, items: list[Incoming]) -> list[Outcome]:
        try:
            return self._store_together(items)
        except Exception as err:
            if unreachable(err):
                raise
            self.counts["batches_split"] += 1
            log.warning("a batch of %d failed (%s): storing its messages one by one", len(items), _first_line(err))
            return [self._store_alone(it) for it in items]

    def _store_together(self, items: list[Incoming]) -> list[Outcome]:
        for attempt in range(3):
            try:
                _keep_connection()
                return store_many(items, self.clock.now(), self.cfg, self._admit)
            except DatabaseError as err:
                # two workers' batches took the same rows in another order and PostgreSQL undid one
                # of them: it goes again at once (the other has committed by then)
                if "deadlock detected" not in str(err) or attempt == 2:
                    raise
                self.counts["deadlock_retries"] += 1
                connection.close()
        raise AssertionError("unreachable")

    def _store_alone(self, it: Incoming) -> Outcome:
        try:
            return self._store_together([it])[0]
        except Exception as err:
            if unreachable(err):
                raise
            return Outcome(malformed=f"the store failed: {type(err).__name__}: {_first_line(err)}")

    def _admit(self, key: tuple[str, str]) -> bool:
        """An unknown gateway may be quarantined: at most ``new_gateways_per_minute``."""
        now = time.monotonic()
        self._admitted = [t for t in self._admitted if now - t < 60]
        if len(self._admitted) >= self.cfg.ingest.new_gateways_per_minute:
            return False
        self._admitted.append(now)
        return True

    def _bury(self, items: list[Incoming], outcomes: list[Outcome]) -> None:
        letters = [Letter(it.site, it.gateway, it.leaf, it.payload, out.malformed)
                   for it, out in zip(items, outcomes, strict=True) if out.malformed is not None]
        if letters:
            self.counts["dead_letters_over_cap"] += self._graveyard.bury(letters, self.clock.now())

    def _receipt(self, items: list[Incoming], outcomes: list[Outcome]) -> None:
        receipts = 0
        for it, out in zip(items, outcomes, strict=True):
            if out.malformed is not None:
                self.counts["dead_lettered"] += 1
                self._warn_once(it, "dead-lettered", out.malformed)
                continue
            if out.refused is not None:
                self.counts["refused_quarantine"] += 1
                self._warn_once(it, "refused", out.refused)
                continue
            assert out.stored is not None
            self.counts["stored" if out.stored.new else "duplicate"] += 1
            if out.stored.receipt is not None:
                receipts += 1
                if self._fault_now():
                    os.kill(os.getpid(), signal.SIGKILL)  # the worst moment: committed, not yet receipted
                self.publisher.publish(topic(self.cfg.broker.prefix, it.site, it.gateway, "ack"),
                                       out.stored.receipt.model_dump_json(), qos=1)
        self.counts["receipts"] += receipts
        self.counts["batches"] += 1

    def within_quota(self, site: str, gateway: str, leaf: str, size: int) -> bool:
        """Checked as a message arrives, before it is queued: False (counted, and logged once per
        gateway) when its gateway is over its quota and the message is to be dropped."""
        why = self.quotas.allow(site, gateway, leaf, size)
        if why is None:
            return True
        self.counts[f"refused_{why}"] += 1
        self._warn_once(Incoming(leaf, site, gateway, b""), "refused", f"over its {why} quota")
        return False

    def _warn_once(self, it: Incoming, what: str, why: str) -> None:
        key = (it.site, it.gateway, what)
        if key in self._warned or len(self._warned) > 10_000:  # a broken box must not flood the log
            return
        self._warned.add(key)
        log.warning("%s a %s message from %s/%s: %s (further ones are only counted)",
                    what, it.leaf[:16], it.site[:64], it.gateway[:64], why[:200])

    def _fault_now(self) -> bool:
        """Fault injection for the tests (ELDERGATE_COMMUNITY_FAULT=kill-before-receipt:N): die
        right after the commit holding the Nth alert message, before its receipt. Unset in production."""
        spec = os.environ.get("ELDERGATE_COMMUNITY_FAULT", "")
        if not spec.startswith("kill-before-receipt:"):
            return False
        self.counts["fault_countdown"] += 1
        return self.counts["fault_countdown"] >= int(spec.rsplit(":", 1)[1])


def _keep_connection() -> None:
    """The ingest keeps its one connection from batch to batch, and drops it only once it has
    failed and no longer answers. Django's per-request rule (a new connection each time, as
    ``CONN_MAX_AGE`` 0 says) cost a SQLite worker 8 % of its time opening the file again per batch,
    and a PostgreSQL worker the pool's check per batch."""
    if connection.connection is not None and connection.errors_occurred:
        if connection.is_usable():
            connection.errors_occurred = False
        else:
            connection.close()


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:200].replace("\x00", "")


def broker_back(clock: Clock, wake: threading.Event | None) -> None:
    """The broker is reachable again: acknowledgements waiting for a gateway go out now."""
    try:
        acks.reset_backoff(clock.now())
    except DatabaseError:
        connection.close()
    if wake is not None:
        wake.set()
