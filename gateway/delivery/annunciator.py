"""The local pre-alarm: a command run in the home the moment a fall is possible.

For example a speaker saying "Are you all right? Press the button if you are"
(``notifications.annunciator_command`` in the configuration). It runs without a shell and
without waiting; a command that cannot start is logged once and never stops the gateway.
The possible fall becomes an alert only if the resident stays down (signal/falls.py); a
single button press or a return to bed inside the cancel window cancels it (gateway/home.py).
"""

from __future__ import annotations

import logging
import subprocess

from eldergate.gateway.core.output import Output
from eldergate.signal.model import Event, EventName

log = logging.getLogger(__name__)


class Annunciator:
    def __init__(self, command: list[str]) -> None:
        self.command = command
        self.runs = 0
        self._failed = False
        self._procs: list[subprocess.Popen[bytes]] = []

    def emit(self, item: Output) -> None:
        if not self.command or not isinstance(item, Event) or item.name != EventName.POSSIBLE_FALL:
            return
        self._procs = [p for p in self._procs if p.poll() is None]
        try:
            self._procs.append(subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                                stderr=subprocess.DEVNULL))
            self.runs += 1
        except OSError as err:
            if not self._failed:
                log.error("annunciator command %r cannot run: %s", self.command[0], err)
            self._failed = True

    def close(self) -> None:
        for p in self._procs:
            if p.poll() is None:
                p.terminate()
