"""Shared test helpers (plain functions; fixtures live in conftest.py)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

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


def systemd_rating(unit: Path) -> float:
    """``systemd-analyze verify`` passes on the unit; its ``security --offline`` exposure (printed)."""
    analyze = shutil.which("systemd-analyze")
    assert analyze is not None, "systemd-analyze is missing: scripts/test installs systemd"
    verify = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True)
    assert verify.returncode == 0, verify.stderr
    sec = subprocess.run([analyze, "security", "--offline=true", str(unit)], capture_output=True, text=True)
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", sec.stdout + sec.stderr)
    assert m, sec.stdout[-500:]
    print(f"\nsystemd-analyze security --offline=true: exposure {m.group(1)}")
    return float(m.group(1))


def pty_home(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """The demo home with its two radars on pseudo-terminals and its state in ``tmp_path``:
    (configuration file, {sensor id: VirtualSerialPort}). Close the ports when done."""
    from eldergate.gateway.tools.emulation import VirtualSerialPort

    ports = {sid: VirtualSerialPort(tmp_path / f"{sid}.tty") for sid in ("bed_radar", "room_radar")}
    text = (ROOT / "config" / "demo.toml").read_text()
    for sid, port in ports.items():
        text = text.replace(f'"emulated:{sid}"', f'"{port.link}"')
    text = text.replace('state_dir = "/tmp/eldergate-demo"', f'state_dir = "{tmp_path / "state"}"')
    cfg = tmp_path / "home.toml"
    cfg.write_text(text)
    return cfg, ports


def read_lines(stream: IO[str]) -> tuple[list[str], threading.Thread]:
    """Read a child's output on a daemon thread: (the lines so far, growing; the reader to join)."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(stream), daemon=True)
    reader.start()
    return lines, reader



def room_radar_alone() -> Any:
    """The demo home's room radar alone (it has the bed zone), no check-in supervision, and an
    armchair zone: what the behaviour tests on real-radar-like tracks run against."""
    from eldergate.config.loader import load_config
    from eldergate.config.schema import Box

    c = load_config(ROOT / "config" / "demo.toml")
    room = next(s for s in c.sensors if s.id == "room_radar")
    chair = Box(x_min=0.6, x_max=1.4, y_min=1.6, y_max=2.4)
    placement = room.placement.model_copy(update={"chair_zones": [chair]})
    return c.model_copy(update={"sensors": [room.model_copy(update={"check_in": None, "placement": placement})]})
