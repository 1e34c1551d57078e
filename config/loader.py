"""Load a TOML configuration file into :class:`Config`, or say exactly what is wrong.

Every problem becomes one line ``path: reason`` (``sensors[2].serial.port: field required``)
so that an installer can fix the file without reading a traceback.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from eldergate.config.schema import Config
from eldergate.drivers.errors import ConfigurationError


class ConfigError(ConfigurationError):
    """The configuration cannot be used. ``problems`` holds (field path, reason) pairs."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {path}: {reason}" for path, reason in problems)
        super().__init__(f"{source}: {len(problems)} problem(s)\n{lines}")


def format_loc(loc: Iterable[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


_REASONS = {
    "missing": "field required",
    "extra_forbidden": "unknown key (misspelt?)",
}


def _problems_from(err: ValidationError) -> list[tuple[str, str]]:
    problems = []
    for e in err.errors(include_url=False):
        reason = _REASONS.get(e["type"], e["msg"])
        if e["type"] not in _REASONS and "input" in e and not isinstance(e["input"], dict | list):
            reason = f"{reason} (got {e['input']!r})"
        problems.append((format_loc(e["loc"]), reason.removeprefix("Value error, ")))
    return problems


def _cross_references(cfg: Config) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for label, ids in (("residents", [r.id for r in cfg.residents]), ("rooms", [r.id for r in cfg.rooms]),
                       ("sensors", [s.id for s in cfg.sensors])):
        for i, ident in enumerate(ids):
            if ident in ids[:i]:
                problems.append((f"{label}[{i}].id", f"duplicate id {ident!r}"))
    rooms = {r.id for r in cfg.rooms}
    residents = {r.id for r in cfg.residents}
    for i, res in enumerate(cfg.residents):
        if res.bedroom is not None and res.bedroom not in rooms:
            problems.append((f"residents[{i}].bedroom", f"no room with id {res.bedroom!r}"))
    for i, s in enumerate(cfg.sensors):
        if s.room not in rooms:
            problems.append((f"sensors[{i}].room", f"no room with id {s.room!r}"))
        if s.resident is not None and s.resident not in residents:
            problems.append((f"sensors[{i}].resident", f"no resident with id {s.resident!r}"))
    return problems


def parse_config(data: dict[str, Any], source: str = "<config>") -> Config:
    try:
        cfg = Config.model_validate(data)
    except ValidationError as err:
        raise ConfigError(source, _problems_from(err)) from None
    problems = _cross_references(cfg)
    if problems:
        raise ConfigError(source, problems)
    return cfg


def load_config(path: Path | str) -> Config:
    path = Path(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(str(path), [("(file)", "no such file")]) from None
    except OSError as err:  # a directory, no permission...
        raise ConfigError(str(path), [("(file)", err.strerror or str(err))]) from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(str(path), [("(syntax)", str(err))]) from None
    return parse_config(data, str(path))
