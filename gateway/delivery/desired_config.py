"""The server's desired configuration on the box (contract/desired_config.py): checked against
the box's own schema, applied whole or not at all, the last good one kept.

The TOML stays the box's own file (ports, protocols, rooms, placements); what the server sends
is kept beside the outbox in ``server-config.json`` and laid over the TOML's residents at every
start. Applying a new version: the merged configuration must pass the same checks as the TOML
(``config/loader.py``); then the file is replaced atomically (the one before kept as
``server-config.prev.json``) and the gateway restarts itself in place (its outbox, alerts and
learning survive restarts by design). A refused version changes nothing; the status says which
version is in effect and which was refused, with the first reason, naming the field.

At start, a stored version that no longer fits the TOML (the installer changed the file) is set
aside for the one before, then for the TOML alone, and said so in the log: the box never fails
to start over what the server sent.
"""

from __future__ import annotations

import json
import logging
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from eldergate.config.loader import ConfigError, load_config, parse_config
from eldergate.config.schema import Config
from eldergate.contract.desired_config import ConfigMessage, DesiredResident

log = logging.getLogger(__name__)
CURRENT = "server-config.json"
PREVIOUS = "server-config.prev.json"


@dataclass
class ConfigState:
    """What the box's status says about the server's configuration."""

    version: int = 0  # in effect; 0: the TOML alone
    refused_version: int = 0
    refused: str = ""


def overlay(data: dict[str, Any], desired: ConfigMessage) -> dict[str, Any]:
    """The TOML's data with the server's word laid over its residents (a new dict)."""
    out: dict[str, Any] = json.loads(json.dumps(data, default=str))  # a deep copy; TOML's times as text
    residents = out.setdefault("residents", [])
    by_id = {r.get("id"): r for r in residents if isinstance(r, dict)}
    for i, want in enumerate(desired.residents):
        have = by_id.get(want.id)
        if have is None:
            raise ConfigError("server configuration", [(
                f"residents[{i}].id", f"this box has no resident {want.id!r} (rooms and sensors are set on the box)")])
        _lay(have, want)
    return out


def _lay(have: dict[str, Any], want: DesiredResident) -> None:
    if want.birth_year is not None:
        have["birth_year"] = want.birth_year
    if want.at_risk_of_getting_lost is not None:
        have["at_risk_of_getting_lost"] = want.at_risk_of_getting_lost
    changes = {k: v.strftime("%H:%M:%S") if hasattr(v, "strftime") else v for k, v in want.thresholds.changes().items()}
    if changes:
        have["thresholds"] = {**have.get("thresholds", {}), **changes}
    if want.contacts is not None:
        have["contacts"] = [{"name": f"{c.role}-{c.order}", "role": c.role, "phone": c.phone, "notify": c.notify}
                            for c in sorted(want.contacts, key=lambda c: c.order)]


def _toml(path: Path) -> dict[str, Any]:
    with path.open("rb") as fh:
        return tomllib.load(fh)


def check(toml_path: Path, desired: ConfigMessage) -> Config:
    """The configuration the box would run with; ConfigError naming the field when refused."""
    return parse_config(overlay(_toml(toml_path), desired), "server configuration")


def effective_config(toml_path: Path, state_dir: Path | None = None) -> tuple[Config, ConfigState]:
    """The configuration to start with: the TOML (refused as always when it is wrong) with the
    last stored server configuration that still fits it (``state_dir``: the TOML's, unless given)."""
    cfg = load_config(toml_path)
    for name in (CURRENT, PREVIOUS):
        stored = (state_dir or cfg.gateway.state_dir) / name
        if not stored.exists():
            continue
        try:
            desired = ConfigMessage.model_validate_json(stored.read_bytes())
            return check(toml_path, desired), ConfigState(version=desired.version)
        except (ConfigError, ValidationError, OSError, ValueError) as err:
            log.error("the server's configuration in %s no longer fits this box (%s); set aside",
                      stored, str(err).splitlines()[-1].strip()[:200])
    return cfg, ConfigState()


def first_reason(err: Exception) -> str:
    """The first problem, naming the field; a TOML the box cannot read now is named as such."""
    if isinstance(err, ConfigError):
        path, reason = err.problems[0]
    else:
        path, reason = "(file)", str(err).splitlines()[0] if str(err) else type(err).__name__
    return f"{path}: {reason}"[:300]


class DesiredConfig:
    """Receives the server's configuration (in the core loop's thread) and applies or refuses it."""

    def __init__(self, toml_path: Path, state_dir: Path, state: ConfigState, running: Config) -> None:
        self.toml_path, self.state_dir, self.state, self.running = toml_path, state_dir, state, running

    def offer(self, desired: ConfigMessage) -> bool:
        """True when a new version was stored that changes what the box runs with: the gateway
        should restart to run it. A version that changes nothing is stored and reported only."""
        if desired.version in (self.state.version, self.state.refused_version):
            return False  # the retained copy every connection brings, or one refused already
        try:
            wanted = check(self.toml_path, desired)
        except (ConfigError, OSError, ValueError) as err:  # ValueError: a TOML edited into nonsense since the start
            self.state.refused_version, self.state.refused = desired.version, first_reason(err)
            log.error("refused the server's configuration version %d: %s", desired.version, self.state.refused)
            return False
        self._store(desired)
        restart = wanted != self.running
        log.info("the server's configuration version %d (was %d) is in effect%s", desired.version,
                 self.state.version, ": restarting in place to run it" if restart else " (nothing changed here)")
        self.state.version = desired.version
        return restart

    def _store(self, desired: ConfigMessage) -> None:
        current, previous = self.state_dir / CURRENT, self.state_dir / PREVIOUS
        tmp = self.state_dir / (CURRENT + ".tmp")
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as fh:  # push URLs are secrets
            fh.write(desired.model_dump_json().encode())
            fh.flush()
            os.fsync(fh.fileno())
        if current.exists():
            os.replace(current, previous)
        os.replace(tmp, current)
        fd = os.open(self.state_dir, os.O_RDONLY)
        try:
            os.fsync(fd)  # the renames are durable before the restart reads them
        finally:
            os.close(fd)
