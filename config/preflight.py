"""What a well-formed configuration still needs from this machine before it can work.

The schema checks the file itself; this checks what it points at: every contact's address
can be read, the TLS and credential files exist, each resident has someone to tell, the
serial ports are there. ``eldergate check-config`` and ``eldergate run`` both call it, so a
mistake is refused before start (exit 2, the field named) instead of becoming a traceback
loop under systemd. A serial port that is missing is only a warning: a USB radar may be
unplugged while the installer works.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from eldergate.config.schema import Config

Severity = Literal["error", "warning", "environment"]  # environment: an error at start, a warning in a shell


@dataclass(frozen=True, slots=True)
class Finding:
    path: str
    message: str
    severity: Severity = "error"


def preflight(cfg: Config) -> list[Finding]:
    return [*_people(cfg), *_files(cfg), *_ports(cfg)]


def _readable(path: Path) -> str | None:
    """Why ``path`` cannot be read, or None when it can."""
    if not path.exists():
        return f"{path}: no such file"
    if not path.is_file():
        return f"{path}: not a file"
    if not os.access(path, os.R_OK):
        return f"{path}: not readable by this user"
    return None


def _people(cfg: Config) -> list[Finding]:
    out = []
    for i, r in enumerate(cfg.residents):
        if cfg.notifications.enabled and not r.contacts:
            out.append(Finding(f"residents[{i}].contacts", "no contact: nobody would be told of an alert; add one "
                               "(the grid worker first), or set notifications.enabled = false"))
        for j, c in enumerate(r.contacts):
            where = f"residents[{i}].contacts[{j}]"
            if c.notify_file is not None and (why := _readable(c.notify_file)) is not None:
                out.append(Finding(f"{where}.notify_file", f"{why} (the contact's notification address)"))
            if c.notify_env is not None and c.notify_env not in os.environ:
                out.append(Finding(f"{where}.notify_env", f"environment variable {c.notify_env} is not set "
                                   "(the service must have it, e.g. from an EnvironmentFile)", "environment"))
    return out


def _files(cfg: Config) -> list[Finding]:
    wanted: list[tuple[str, Path | None]] = [("local_mqtt.credentials_file", cfg.local_mqtt.credentials_file)]
    if cfg.uplink is not None and cfg.uplink.enabled:
        wanted += [(f"uplink.{k}", getattr(cfg.uplink, k)) for k in ("ca_file", "cert_file", "key_file")]
        if not cfg.uplink.server_url:  # with a server_url, a missing credentials file is made by the claim
            wanted.append(("uplink.credentials_file", cfg.uplink.credentials_file))
    if cfg.telemetry.enabled:
        wanted += [("telemetry.token_file", cfg.telemetry.token_file), ("telemetry.ca_file", cfg.telemetry.ca_file)]
    if cfg.updates.enabled:
        wanted.append(("updates.public_key_file", cfg.updates.public_key_file))
    wanted += [(f"sensors[{i}].serial.chirp_config", s.serial.chirp_config)
               for i, s in enumerate(cfg.sensors) if s.serial is not None]
    return [Finding(path, why) for path, file in wanted if file is not None and (why := _readable(file)) is not None]


def _ports(cfg: Config) -> list[Finding]:
    out = []
    for i, s in enumerate(cfg.sensors):
        if s.serial is None or ":" in s.serial.port.split("/")[0]:  # emulated:..., capture:...: not a device
            continue
        for key, port in (("port", s.serial.port), ("command_port", s.serial.command_port)):
            if port is not None and not Path(port).exists():
                out.append(Finding(f"sensors[{i}].serial.{key}", f"{port} does not exist now (unplugged, or another "
                                   "name? prefer /dev/serial/by-id/...)", "warning"))
    return out
