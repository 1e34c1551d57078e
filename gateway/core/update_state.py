"""The state of a software update on the box (``<state_dir>/update.json``) and the links that
say which release runs (``<state_dir>/releases/current``, ``previous``): shared by the launcher
(``tools/launch.py``) and the updater (``delivery/updates.py``). Only the standard library."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

LAUNCH_ENV = "ELDERGATE_LAUNCH"  # how a gateway started here starts the launcher again (after an update)
STATE = "update.json"


def read_state(state_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((state_dir / STATE).read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def write_state(state_dir: Path, data: dict[str, Any]) -> None:
    tmp = state_dir / f".{STATE}.tmp"
    with tmp.open("w") as fh:
        json.dump(data, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, state_dir / STATE)


def point(link: Path, target: Path | None) -> None:
    """Make ``link`` point at ``target`` (None: remove it), atomically."""
    if target is None:
        link.unlink(missing_ok=True)
        return
    tmp = link.with_name(f".{link.name}.tmp")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target)
    os.replace(tmp, link)
