"""SIGTERM and Ctrl-C end a long-running command cleanly (run, console, record...)."""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable

log = logging.getLogger("eldergate")


def stop_on_signals(stop: Callable[[], object]) -> None:
    def handler(signum: int, _frame: object) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
