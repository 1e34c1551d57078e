"""Runs each driver and worker in its own thread and restarts it when it fails.

This is the one place where ``except Exception`` lives: a bug in one driver must not take
the gateway down. The failure is logged with its traceback, the driver is marked
unavailable, and it is restarted with back-off. Callbacks that another library calls on
its own thread (paho's ``on_message``...) are wrapped by ``guard``: an exception there is
logged once with its traceback, counted, and does not kill that library's thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")
Guard = Callable[[str, Callable[..., Any]], Callable[..., Any]]  # Supervisor.guard, or unguarded


def unguarded(_name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """For parts used alone (tests, tools): callbacks run as they are."""
    return fn

log = logging.getLogger(__name__)


@dataclass
class TaskState:
    name: str
    running: bool = False
    failures: int = 0
    last_failure: str | None = None


class Supervisor:
    def __init__(self, stop: threading.Event, backoff: tuple[float, float] = (0.5, 60.0)) -> None:
        self.stop = stop
        self.backoff = backoff
        self.tasks: dict[str, TaskState] = {}
        self.callback_errors: dict[str, int] = {}  # guarded callback -> exceptions caught
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

    def guard(self, name: str, fn: Callable[P, R]) -> Callable[P, R | None]:
        """``fn`` for another thread's loop to call (paho's callbacks, a push): an exception is
        logged (the first, then the 10th, 100th...), counted, and becomes None."""
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R | None:
            try:
                return fn(*args, **kwargs)
            except Exception:
                n = self.callback_errors[name] = self.callback_errors.get(name, 0) + 1
                if n == 1 or n in (10, 100, 1000) or n % 10_000 == 0:
                    log.exception("%s failed (%d time(s)); its thread goes on", name, n)
                return None
        return guarded

    def join(self, timeout: float) -> None:
        for th in self._threads:
            th.join(timeout=timeout)

    def dead(self) -> list[str]:
        """Supervisor threads that ended while the gateway is still meant to run."""
        if self.stop.is_set():
            return []
        return [th.name.removeprefix("eg-") for th in self._threads if not th.is_alive()]
