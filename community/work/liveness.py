"""What the health endpoint reports about this process's parts (set by `serve`), and the
supervisor every long-running part of the server runs under.

A task is a loop that says it is alive (``beat``) on every turn. Its supervisor logs, counts and
restarts it when it raises or returns; while it is down, restarting, or silent for longer than its
``stall_s``, it is not alive, and ``/api/v1/health`` answers 503 naming it (the systemd watchdog is
fed only while health is good, so a wedged process is restarted).
"""

from __future__ import annotations

import logging
import os
import socket
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
        # the ingest's load, as health reports it: what it shed, what the broker says it dropped
        self.load: Callable[[], dict[str, Any]] = dict


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


def load() -> dict[str, Any]:
    return dict(STATE.load())


def warnings() -> list[str]:
    """What an operator should look at, though this process works: messages lost before they reached
    it (the broker's drops) or shed by it (vitals under overload)."""
    out = []
    now = load()
    if now.get("broker_dropping"):
        out.append(f"the broker dropped messages it could not deliver ({now.get('broker_dropped_since_start')} "
                   "since this server started): see docs/deploy-city.md, broker settings")
    if now.get("shedding"):
        out.append(f"the ingest is shedding vitals under load ({sum(now.get('shed', {}).values())} so far)")
    return out


def problems() -> list[str]:
    """What makes this process unhealthy now, in words; empty when all is well."""
    out = [f"task {name} is not running" for name, t in list(STATE.tasks.items()) if not t.alive()]
    behind = STATE.behind()
    if behind > STATE.behind_limit_s:
        out.append(f"ingest is {behind:.0f} s behind")
    return out


def sd_notify(*fields: str, address: str | None = None) -> bool:
    """One datagram of systemd's notify protocol to ``$NOTIFY_SOCKET`` (``@``: the abstract
    namespace); False when there is no socket (not run by systemd) or it cannot be reached."""
    addr = address if address is not None else os.environ.get("NOTIFY_SOCKET", "")
    if not addr:
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        try:
            sock.sendto("\n".join(fields).encode(), "\0" + addr[1:] if addr.startswith("@") else addr)
        except OSError:
            return False
    return True


def watchdog(task: Task, every_s: float | None = None) -> None:
    """A task: READY=1 once, then WATCHDOG=1 every half of systemd's ``WatchdogSec`` while nothing
    of this process's own is wrong (``problems()``); a dead or stalled task stops the pings and
    systemd restarts the server. A database or broker outage does not: a restart would not fix it."""
    usec = os.environ.get("WATCHDOG_USEC", "")
    interval = every_s if every_s is not None else (int(usec) / 2e6 if usec.isdigit() else 10.0)
    sd_notify("READY=1", "STATUS=serving")
    said = ""
    while not task.stop.wait(interval):
        task.beat()
        wrong = [p for p in problems() if "eg-watchdog" not in p]
        if not wrong:
            sd_notify("WATCHDOG=1", "STATUS=serving")
        elif "; ".join(wrong) != said:
            log.critical("watchdog: %s — no more pings, systemd will restart the server", "; ".join(wrong))
            sd_notify(f"STATUS=unhealthy: {'; '.join(wrong)[:200]}")
        said = "; ".join(wrong)
