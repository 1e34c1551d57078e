"""The server's clockwork in one loop: acknowledgements to gateways, escalation steps, offline
homes, the monthly test round, retention. Each tick asks the injected clock for the time."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from django.db import DatabaseError, close_old_connections, connection

from eldergate.community.clock import Clock
from eldergate.community.config import CommunityConfig
from eldergate.community.work import acks, escalation, offline, retention
from eldergate.community.work.notify import Notifier
from eldergate.community.work.publisher import Publisher

log = logging.getLogger(__name__)


class Timers:
    def __init__(self, cfg: CommunityConfig, clock: Clock, notifier: Notifier, publisher: Publisher | None) -> None:
        self.cfg, self.clock, self.notifier, self.publisher = cfg, clock, notifier, publisher
        self.wake = threading.Event()
        self._last_offline: datetime | None = None
        self._last_daily: datetime | None = None

    def tick(self, now: datetime) -> dict[str, int]:
        done: dict[str, int] = {}
        if self.publisher is not None:
            done["acks"] = acks.send_due(now, self.cfg.broker.prefix, self.publisher)
        done["escalated"] = escalation.tick(now, self.cfg, self.notifier)
        if self._last_offline is None or now - self._last_offline >= timedelta(seconds=2):
            self._last_offline = now
            done["offline"] = offline.check(now, self.cfg)
        if self._last_daily is None or now - self._last_daily >= timedelta(hours=1):
            self._last_daily = now
            if self.publisher is not None:
                done["tests"] = offline.test_round(now, self.cfg, self.publisher)
            done["retention"] = sum(retention.enforce(now, self.cfg.retention).values())
        return done

    def run(self, stop: threading.Event, every_s: float = 0.25) -> None:
        quiet_until: datetime | None = None
        while not stop.is_set():
            try:
                close_old_connections()
                self.tick(self.clock.now())
            except DatabaseError as err:
                now = self.clock.now()
                if quiet_until is None or now > quiet_until:  # the database is down: say so once a minute
                    log.error("timers could not use the database: %s", str(err).strip().splitlines()[0][:200])
                    quiet_until = now + timedelta(minutes=1)
                connection.close()
            self.wake.wait(every_s)
            self.wake.clear()
