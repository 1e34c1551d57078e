"""What the health endpoint reports about this process's parts (set by `serve`), and the
supervisor every long-running part of the server runs under.

A task is a loop that says it is alive (``beat``) on every turn. Its supervisor logs, counts and
restarts it when it raises or returns; while it is down, restarting, or silent for longer than its
``stall_s``, it is not alive, and ``/api/v1/health`` answers 503 naming it (the systemd watchdog is
fed only while health is good, so a wedged process is restarted).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("eldergate.community")


@dataclass
class Task:
    name: str
    loop: Callable[[Task], None]  # runs until ``stop``, calling ``beat()`` every turn
    stop: threading.Event
    stall_s: float = 30.0
    clock: Callable[[], float] = time.monotonic
    restarts: int = 0
    last_error: str = ""
    last_beat: float = field(default=0.0)
    up: bool = False
    thread: threading.Thread | None = None

    def beat(self) -> None:
        self.last_beat, self.up = self.clock(), True

    def start(self) -> Task:
        self.thread = threading.Thread(target=self._supervise, name=self.name, daemon=True)
        self.thread.start()
        return self

    def _supervise(self) -> None:
        while not self.stop.is_set():
            self.beat()
            try:
                self.loop(self)
                if self.stop.is_set():
                    break
                self.last_error = "returned"
            except Exception as err:
                self.last_error = f"{type(err).__name__}: {(str(err).splitlines() or [''])[0][:160]}"
                log.exception("task %s failed; restarting it", self.name)
            self.up = False
            self.restarts += 1
            self.stop.wait(min(30.0, 0.5 * 2 ** min(self.restarts - 1, 6)))  # 0.5 s, 1 s ... 30 s

    def alive(self) -> bool:
        return (self.up and self.thread is not None and self.thread.is_alive()
                and self.clock() - self.last_beat < self.stall_s)

    def report(self) -> dict[str, Any]:
        return {"alive": self.alive(), "restarts": self.restarts, "beat_age_s": round(self.clock() - self.last_beat, 1),
                "last_error": self.last_error}


class _State:
    def __init__(self) -> None:
        self.broker: Callable[[], bool] | None = None  # None: this process has no broker connection (web role)
        self.counts: Callable[[], dict[str, int]] = dict
        self.tasks: dict[str, Task] = {}
        self.behind: Callable[[], float] = lambda: 0.0  # seconds the oldest message waiting to be stored has waited
        self.behind_limit_s = 60.0


STATE = _State()


def broker_connected() -> bool | None:
    return None if STATE.broker is None else STATE.broker()


def counts() -> dict[str, int]:
    return dict(STATE.counts())


def supervise(task: Task) -> Task:
    STATE.tasks[task.name] = task
    return task.start()


def tasks() -> dict[str, dict[str, Any]]:
    return {name: t.report() for name, t in list(STATE.tasks.items())}


def problems() -> list[str]:
    """What makes this process unhealthy now, in words; empty when all is well."""
    out = [f"task {name} is not running" for name, t in list(STATE.tasks.items()) if not t.alive()]
    behind = STATE.behind()
    if behind > STATE.behind_limit_s:
        out.append(f"ingest is {behind:.0f} s behind")
    return out
