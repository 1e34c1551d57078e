"""Send a TI chirp configuration over the mmWave demo's CLI port (protocols.md §4.1).

The CLI port runs at 115200; each command is one line and the demo answers "Done" (or an
error) followed by its prompt. Nothing comes out of the data port until the configuration
ends with ``sensorStart``. A configuration that the radar refuses is an error that names
the line, and the transport retries it with back-off like any other link failure.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import serial

from eldergate.drivers.errors import TransientError
from eldergate.drivers.ti_mmwave import chirp_config_lines

log = logging.getLogger(__name__)


class ChirpConfigError(TransientError):
    pass


def send_chirp_config(port: str, config: Path, baud: int = 115200, reply_timeout: float = 2.0) -> int:
    """Write every command of ``config``; returns how many were accepted."""
    lines = chirp_config_lines(config.read_text(encoding="ascii", errors="replace"))
    if lines and lines[0] != "sensorStop":
        lines.insert(0, "sensorStop")
    with serial.Serial(port, baud, timeout=0.05) as cli:
        cli.reset_input_buffer()
        for n, line in enumerate(lines, start=1):
            cli.write(line.encode("ascii") + b"\n")
            reply = _read_reply(cli, reply_timeout)
            if "Done" not in reply and not (line == "sensorStop" and "Ignored" in reply):
                raise ChirpConfigError(f"{config.name} line {n} ({line.split()[0]}): radar answered {reply!r:.80}")
    log.info("chirp configuration %s sent to %s (%d commands)", config.name, port, len(lines))
    return len(lines)


def _read_reply(cli: serial.Serial, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    buf = b""
    while time.monotonic() < deadline:
        buf += bytes(cli.read(256))
        text = buf.decode("ascii", "replace")
        if "Done" in text or "Error" in text or "Ignored" in text or "not recognized" in text:
            return text.strip()
    return buf.decode("ascii", "replace").strip() or "(no answer)"
