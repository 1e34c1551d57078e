"""The box's launcher: what systemd starts (``eldergate.service``), from the factory installation
(``/opt/eldergate/venv``), which an update never replaces. It chooses the release to run and rolls a
new one back by itself when it does not prove healthy (docs/install.md, "Software updates").

Releases are virtual environments under ``<state_dir>/releases/<version>``; ``current`` points at
the one to run (none: the factory installation), ``previous`` at the one before. A release just
installed is *pending* in ``<state_dir>/update.json`` until the gateway running it has been healthy
for ``updates.confirm_after`` and writes *confirmed*. While it is pending, the launcher runs it as
a child and waits:

- it exits before it is confirmed (a crash, a configuration it refuses, its own deadline passed):
  the box goes back to the previous release at once, says why in update.json (the status carries
  it to the server), and runs that;
- the launcher itself is started again with the release still pending (a watchdog kill, a power
  cut) after its health window or too many starts: the same.

Only the standard library and ``core/update_state.py``: this must run whatever an update did to
the releases, and it runs from the factory installation, which no update touches.

    python -m eldergate.gateway.tools.launch --state-dir /var/lib/eldergate -- run --config /etc/eldergate/home.toml
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from eldergate.gateway.core.update_state import LAUNCH_ENV, point, read_state, write_state


def roll_back(state_dir: Path, state: dict[str, Any], reason: str) -> None:
    releases = state_dir / "releases"
    previous = releases / "previous"
    point(releases / "current", previous.resolve() if previous.is_symlink() else None)
    previous.unlink(missing_ok=True)
    state.update(state="rolled_back", reason=reason[:300], at=time.time())
    write_state(state_dir, state)
    print(f"eldergate launcher: release {state.get('version')} rolled back: {reason}", file=sys.stderr, flush=True)


def release_to_run(state_dir: Path, factory: Path) -> Path:
    current = state_dir / "releases" / "current"
    return current.resolve() if current.is_symlink() and (current / "bin" / "eldergate").exists() else factory


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="eldergate-launch", description=__doc__.split("\n\n")[0])
    p.add_argument("--state-dir", type=Path, required=True)
    p.add_argument("--factory", type=Path, default=Path(sys.prefix), help="the installation an update never replaces")
    p.add_argument("args", nargs=argparse.REMAINDER, help="-- and the gateway's arguments (run --config ...)")
    a = p.parse_args(argv)
    args = a.args[1:] if a.args[:1] == ["--"] else a.args
    again = [sys.executable, "-m", "eldergate.gateway.tools.launch", *argv]  # this launcher, started again
    env = {**os.environ, LAUNCH_ENV: json.dumps(again)}
    state = read_state(a.state_dir)
    if state.get("state") == "pending":
        state["starts"] = int(state.get("starts", 0)) + 1
        write_state(a.state_dir, state)
        if time.time() > float(state.get("deadline", 0)):
            roll_back(a.state_dir, state, "it was not healthy within its health window")
        elif state["starts"] > int(state.get("max_starts", 3)):
            roll_back(a.state_dir, state, f"it was started {state['starts'] - 1} times without becoming healthy")
    exe = str(release_to_run(a.state_dir, a.factory) / "bin" / "eldergate")
    if read_state(a.state_dir).get("state") != "pending":
        try:
            os.execve(exe, [exe, *args], env)
        except OSError as err:  # a release that cannot even be executed: the factory installation runs
            print(f"eldergate launcher: {exe}: {err}; running the factory installation", file=sys.stderr, flush=True)
            factory = str(a.factory / "bin" / "eldergate")
            os.execve(factory, [factory, *args], env)
    return _watch(a.state_dir, exe, args, env, again)


def _watch(state_dir: Path, exe: str, args: list[str], env: dict[str, str], again: list[str]) -> int:
    """Run a pending release as a child; roll it back if it ends before it is confirmed."""
    try:
        child = subprocess.Popen([exe, *args], env=env)
    except OSError as err:
        roll_back(state_dir, read_state(state_dir), f"it could not be started: {err.strerror}")
        os.execv(again[0], again)
    stopping = [False]

    def forward(signum: int, _frame: object) -> None:
        stopping[0] = True
        child.send_signal(signum)

    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, forward)
    code = child.wait()
    state = read_state(state_dir)
    if state.get("state") != "pending" or stopping[0]:
        return code
    roll_back(state_dir, state, f"it exited with status {code} before it was healthy")
    os.execv(again[0], again)
    return code  # not reached


if __name__ == "__main__":
    sys.exit(main())
