"""What every ingest does with a batch, whatever broker it came through: store it in one
transaction, then receipt the alerts it holds, then (the caller) acknowledge it to the broker.

The order is the promise: a receipt is only ever sent for what is committed, and the broker only
forgets a message once it is committed, so a worker killed at any moment loses nothing (the
broker redelivers, the gateways resend, the unique keys make the repeat harmless).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections import Counter

from django.db import DatabaseError, close_old_connections, connection

from eldergate.community.clock import Clock
from eldergate.community.config import CommunityConfig
from eldergate.community.ingest.store import Incoming, Outcome, store_many
from eldergate.community.work import acks
from eldergate.community.work.publisher import Publisher
from eldergate.contract.messages import topic

log = logging.getLogger("eldergate.community.ingest")
BATCH = 200  # messages per transaction at most: one commit (one fsync) for a burst


class BatchStore:
    def __init__(self, cfg: CommunityConfig, clock: Clock, publisher: Publisher) -> None:
        self.cfg, self.clock, self.publisher = cfg, clock, publisher
        self.counts: Counter[str] = Counter()  # stored, duplicate, receipts, malformed, errors, batches
        self._warned: set[tuple[str, str]] = set()

    def store_batch(self, items: list[Incoming]) -> bool:
        """Store and receipt; False when the database refused (nothing receipted: the gateways
        resend)."""
        try:
            outcomes = self._store(items)
        except DatabaseError as err:
            self.counts["errors"] += len(items)
            log.error("could not store %d message(s): %s", len(items), str(err).strip().splitlines()[0][:200])
            connection.close()  # the next batch reconnects
            return False
        receipts = 0
        for it, out in zip(items, outcomes, strict=True):
            if out.malformed is not None:
                self.counts["malformed"] += 1
                if (it.site, it.gateway) not in self._warned:  # once per gateway: a broken one must not flood the log
                    self._warned.add((it.site, it.gateway))
                    log.warning("ignored a malformed %s message from %s/%s: %s (further ones are only counted)",
                                it.leaf, it.site, it.gateway, out.malformed)
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
        return True

    def _store(self, items: list[Incoming]) -> list[Outcome]:
        for attempt in range(3):
            try:
                close_old_connections()
                return store_many(items, self.clock.now(), self.cfg)
            except DatabaseError as err:
                # two workers' batches took the same rows in another order and PostgreSQL undid one
                # of them: it goes again at once (the other has committed by then)
                if "deadlock detected" not in str(err) or attempt == 2:
                    raise
                self.counts["deadlock_retries"] += 1
                connection.close()
        raise AssertionError("unreachable")

    def _fault_now(self) -> bool:
        """Fault injection for the tests (ELDERGATE_COMMUNITY_FAULT=kill-before-receipt:N): die
        right after the commit holding the Nth alert message, before its receipt. Unset in production."""
        spec = os.environ.get("ELDERGATE_COMMUNITY_FAULT", "")
        if not spec.startswith("kill-before-receipt:"):
            return False
        self.counts["fault_countdown"] += 1
        return self.counts["fault_countdown"] >= int(spec.rsplit(":", 1)[1])


def broker_back(clock: Clock, wake: threading.Event | None) -> None:
    """The broker is reachable again: acknowledgements waiting for a gateway go out now."""
    try:
        acks.reset_backoff(clock.now())
    except DatabaseError:
        connection.close()
    if wake is not None:
        wake.set()
