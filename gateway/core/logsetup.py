"""Readable, structured logs: ``time level logger: message``, one line each.

Nothing personal goes to the log: resident names, medical notes and notification
addresses are never formatted into messages; ids are. Secrets never reach this module.
"""

from __future__ import annotations

import logging
import sys


def setup_logging(verbose: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s",
                                           datefmt="%Y-%m-%dT%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger("paho").setLevel(logging.WARNING)
    logging.getLogger("apprise").setLevel(logging.WARNING)  # it logs every push at INFO
