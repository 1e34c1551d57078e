"""Shared test helpers (plain functions; fixtures live in conftest.py)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ELDERGATE = str(Path(sys.executable).with_name("eldergate"))


def eldergate_cmd(*args: str) -> list[str]:
    return [ELDERGATE, *args]


def clean_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return env


def with_check_in(toml_text: str, check_in: str) -> str:
    """The demo configuration with every sensor's check_in set to ``check_in`` (asserts there was one)."""
    import re

    out, n = re.subn(r'^check_in = "[^"]*"', f'check_in = "{check_in}"', toml_text, flags=re.M)
    assert n >= 2, "the demo configuration's check_in lines moved"
    return out


def wait_for(pred: Callable[[], object], timeout: float = 10.0, every: float = 0.02) -> bool:
    """Poll until ``pred()`` is true or ``timeout`` passes; bounded, as every wait in the tests is."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(every)
    return False
