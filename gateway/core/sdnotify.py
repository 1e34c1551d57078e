"""systemd's notify protocol and a watchdog that pings only while the gateway makes progress.

``Type=notify`` units read datagrams like ``READY=1``, ``STATUS=...`` and ``WATCHDOG=1``
from the socket named by ``$NOTIFY_SOCKET`` (``@`` = abstract namespace). With
``WatchdogSec=``, systemd sets ``$WATCHDOG_USEC`` and restarts the service when the pings
stop. The pinger checks that the core loop turned recently and that no driver thread
died; a stuck loop or a dead supervisor stops the pings, and systemd restarts the gateway.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class SystemdNotifier:
    def __init__(self, address: str | None = None) -> None:
        address = address if address is not None else os.environ.get("NOTIFY_SOCKET")
        self._addr: str | None = None
        self._sock: socket.socket | None = None
        if address:
            self._addr = "\0" + address[1:] if address.startswith("@") else address
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def notify(self, *fields: str) -> None:
        if self._sock is None or self._addr is None:
            return
        try:
            self._sock.sendto("\n".join(fields).encode(), self._addr)
        except OSError as err:
            log.debug("sd_notify failed: %s", err)


def watchdog_interval() -> float | None:
    """Half of systemd's WatchdogSec, or None when no watchdog is asked for."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 1e6 / 2


class Watchdog:
    """Pings systemd every ``interval`` while ``healthy()`` says every stage is making progress."""

    def __init__(self, notifier: SystemdNotifier, interval: float, healthy: Callable[[], str | None],
                 status: Callable[[], str], stop: threading.Event) -> None:
        self.notifier, self.interval = notifier, interval
        self.healthy, self.status, self.stop = healthy, status, stop
        self.pings = 0
        self._stuck_logged = False

    def run(self) -> None:
        while not self.stop.wait(self.interval):
            problem = self.healthy()
            if problem is None:
                self.notifier.notify("WATCHDOG=1", f"STATUS={self.status()}")
                self.pings += 1
                self._stuck_logged = False
            elif not self._stuck_logged:
                log.critical("watchdog: %s — no more pings, systemd will restart the gateway", problem)
                self.notifier.notify(f"STATUS=stuck: {problem}")
                self._stuck_logged = True
