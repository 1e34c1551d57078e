"""Runs each driver in its own thread and restarts it when it fails.

This is the one place where ``except Exception`` lives: a bug in one driver must not take
the gateway down. The failure is logged with its traceback, the driver is marked
unavailable, and it is restarted with back-off.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass
class TaskState:
    name: str
    running: bool = False
    failures: int = 0
    last_failure: str | None = None
    heartbeat: float = 0.0


class Supervisor:
    def __init__(self, stop: threading.Event, backoff: tuple[float, float] = (0.5, 60.0)) -> None:
        self.stop = stop
        self.backoff = backoff
        self.tasks: dict[str, TaskState] = {}
        self._threads: list[threading.Thread] = []

    def spawn(self, name: str, target: Callable[[], None]) -> None:
        state = self.tasks[name] = TaskState(name)
        th = threading.Thread(target=self._guard, args=(state, target), name=f"eg-{name}", daemon=True)
        self._threads.append(th)
        th.start()

    def _guard(self, state: TaskState, target: Callable[[], None]) -> None:
        delay = self.backoff[0]
        while not self.stop.is_set():
            state.running = True
            try:
                target()
                return  # a target returns only when asked to stop
            except Exception as err:
                state.running = False
                state.failures += 1
                state.last_failure = f"{type(err).__name__}: {err}"[:300]
                log.exception("driver %s failed (%d time(s)); restarting in %.1f s", state.name,
                              state.failures, delay)
                self.stop.wait(delay)
                delay = min(delay * 2, self.backoff[1])
        state.running = False

    def join(self, timeout: float) -> None:
        for th in self._threads:
            th.join(timeout=timeout)

    def dead(self) -> list[str]:
        """Supervisor threads that ended while the gateway is still meant to run."""
        if self.stop.is_set():
            return []
        return [th.name.removeprefix("eg-") for th in self._threads if not th.is_alive()]
