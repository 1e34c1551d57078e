"""Shared test helpers (plain functions; fixtures live in conftest.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ELDERGATE = str(Path(sys.executable).with_name("eldergate"))


def eldergate_cmd(*args: str) -> list[str]:
    return [ELDERGATE, *args]


def clean_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return env
