"""Where outputs go. A sink takes every output of the pipeline; each keeps what it wants.

The alert and uplink work plugs in here: the console and the local SQLite store are the
sinks that need no network.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from typing import IO, Protocol

from eldergate.drivers.readings import Reading
from eldergate.gateway.core.output import Output

log = logging.getLogger(__name__)


class Sink(Protocol):
    def emit(self, item: Output) -> None: ...

    def close(self) -> None: ...


def to_json(item: Output) -> dict[str, object]:
    return item.to_json()


class JsonLinesSink:
    """One JSON object per line (``replay --json``)."""

    def __init__(self, stream: IO[str], readings: bool = False) -> None:
        self.stream, self.readings = stream, readings

    def emit(self, item: Output) -> None:
        if isinstance(item, Reading) and not self.readings:
            return
        self.stream.write(json.dumps(to_json(item), ensure_ascii=False, separators=(",", ":")) + "\n")

    def close(self) -> None:
        self.stream.flush()


class Fanout:
    """Send every output to several sinks; a failing sink is logged and does not stop the others."""

    def __init__(self, sinks: list[Sink]) -> None:
        self.sinks = sinks

    def emit(self, item: Output) -> None:
        for s in self.sinks:
            try:
                s.emit(item)
            except (OSError, sqlite3.Error) as err:
                log.error("sink %s failed: %s", type(s).__name__, err)

    def close(self) -> None:
        for s in self.sinks:
            s.close()
