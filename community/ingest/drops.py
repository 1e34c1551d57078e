"""What the broker itself says it dropped: Mosquitto's running count
(``$SYS/broker/publish/messages/dropped``, mosquitto(8) "Broker Status"), and on NATS one
JetStream advisory per message it gave up delivering (``$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES``,
docs.nats.io "Monitoring JetStream"). Reported by health (``load.broker_dropped*``) and logged at
each increase: a deployment whose broker drops what the server cannot take must hear of it."""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger("eldergate.community.ingest")
RECENT_S = 300.0  # health warns this long after the count last grew


class BrokerDrops:
    def __init__(self) -> None:
        self.total: int | None = None  # the broker's count, once it has said one
        self._first: int | None = None  # its count when this server first read it
        self.at = 0.0  # monotonic time of the last increase
        self._lock = threading.Lock()

    def counter(self, n: int) -> int:
        """The broker's running total (Mosquitto): what it grew by since the last reading."""
        with self._lock:
            if self._first is None:
                self._first = n  # what it had dropped before this server listened
            grew = n - self.total if self.total is not None and n > self.total else 0
            self.total = n
        if grew:
            self._grew(grew, n)
        return grew

    def add(self, n: int = 1) -> None:
        """One advisory per message given up (NATS)."""
        with self._lock:
            self._first = 0 if self._first is None else self._first
            self.total = (self.total or 0) + n
            total = self.total
        self._grew(n, total)

    def _grew(self, n: int, total: int) -> None:
        self.at = time.monotonic()
        log.warning("the broker says it dropped %d message(s) it could not deliver (%d in all): check "
                    "max_queued_messages and the server's load (docs/deploy-city.md)", n, total)

    @property
    def since_start(self) -> int:
        return (self.total or 0) - (self._first or 0)

    def recent(self) -> bool:
        return self.at > 0 and time.monotonic() - self.at < RECENT_S

    def health(self) -> dict[str, object]:
        return {"broker_dropped": self.total, "broker_dropped_since_start": self.since_start,
                "broker_dropping": self.recent()}
