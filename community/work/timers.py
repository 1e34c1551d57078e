"""The server's clockwork in one loop: acknowledgements and desired configurations to gateways,
escalation steps, offline homes, the monthly test round, retention. Each tick asks the injected clock for the time.

Each job runs on its own: one that fails (the database down, or a row it cannot handle) is logged
once a minute and counted, and the others still run, on this tick and the next."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import close_old_connections, connection

from eldergate.community.clock import Clock
from eldergate.community.config import CommunityConfig
from eldergate.community.work import (
    acks,
    box_commands,
    desired_config,
    diagnostic_captures,
    escalation,
    lost,
    offline,
    retention,
    rollouts,
)
from eldergate.community.work.liveness import Task
from eldergate.community.work.notify import Notifier
from eldergate.community.work.publisher import Publisher

log = logging.getLogger(__name__)


class Timers:
    def __init__(self, cfg: CommunityConfig, clock: Clock, notifier: Notifier, publisher: Publisher | None) -> None:
        self.cfg, self.clock, self.notifier, self.publisher = cfg, clock, notifier, publisher
        self.wake = threading.Event()
        self._last_offline: datetime | None = None
        self._last_daily: datetime | None = None
        self.failures: Counter[str] = Counter()
        self._quiet_until: dict[str, datetime] = {}

    def tick(self, now: datetime) -> dict[str, int]:
        done: dict[str, int] = {}
        publisher = self.publisher
        if publisher is not None:
            self._job(done, "acks", now, lambda: acks.send_due(now, self.cfg.broker.prefix, publisher))
            self._job(done, "config", now, lambda: desired_config.publish_due(publisher, self.cfg.broker.prefix))
            self._job(done, "commands", now, lambda: box_commands.send_due(publisher, self.cfg.broker.prefix, now,
                                                                                self.cfg.public_url()))
        self._job(done, "escalated", now, lambda: escalation.tick(now, self.cfg, self.notifier))
        if self._last_offline is None or now - self._last_offline >= timedelta(seconds=2):
            self._last_offline = now
            self._job(done, "offline", now, lambda: offline.check(now, self.cfg))
            self._job(done, "command_answers", now, lambda: box_commands.settle(now))
            if publisher is not None:  # a new outdoor temperature reaches the homes within seconds
                self._job(done, "outdoor", now, lambda: lost.send_outdoor_temperatures(now, self.cfg, publisher))
                self._job(done, "rollouts", now, lambda: rollouts.tick(now, publisher, self.cfg.broker.prefix,
                                                                       self.cfg.public_url()))
        if self._last_daily is None or now - self._last_daily >= timedelta(hours=1):
            self._last_daily = now
            if publisher is not None:
                self._job(done, "tests", now, lambda: offline.test_round(now, self.cfg, publisher))
            self._job(done, "retention", now, lambda: sum(retention.enforce(now, self.cfg.retention).values()))
            self._job(done, "positions", now, lambda: lost.prune(now))  # a search's positions, not a history
            self._job(done, "captures", now, lambda: diagnostic_captures.prune(now))
        return done

    def _job(self, done: dict[str, int], name: str, now: datetime, job: Callable[[], int]) -> None:
        try:
            done[name] = job()
        except Exception as err:  # noqa: BLE001  (one job's failure must not stop the others)
            self.failures[name] += 1
            if now > self._quiet_until.get(name, now - timedelta(seconds=1)):  # once a minute per job
                log.error("timers: %s failed: %s: %s", name, type(err).__name__,
                          (str(err).strip().splitlines() or [""])[0][:200])
                self._quiet_until[name] = now + timedelta(minutes=1)
            connection.close()  # a broken connection or transaction must not spoil the next job

    def run(self, stop: threading.Event, every_s: float = 0.25, task: Task | None = None) -> None:
        while not stop.is_set():
            if task is not None:
                task.beat()
            close_old_connections()
            self.tick(self.clock.now())
            self.wake.wait(every_s)
            self.wake.clear()
