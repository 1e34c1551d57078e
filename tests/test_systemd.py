"""The unit, the install script and the watchdog, as systemd would see them."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from eldergate.config.loader import parse_config
from eldergate.gateway.core.sdnotify import SystemdNotifier, Watchdog
from eldergate.gateway.runtime import Gateway

from testutil import ELDERGATE, ROOT, clean_env, eldergate_cmd, systemd_rating, wait_for

ANALYZE = shutil.which("systemd-analyze")


@pytest.mark.skipif(ANALYZE is None, reason="scripts/test installs systemd (systemd-analyze)")
@pytest.mark.parametrize("name", ["eldergate.service", "eldergate-community.service"])
def test_unit_verifies_and_is_rated_2_or_better(tmp_path: Path, name: str) -> None:
    unit = tmp_path / name
    unit.write_text((ROOT / "systemd" / name).read_text().replace(  # the program as installed in this environment
        "/opt/eldergate/venv/bin/eldergate", ELDERGATE).replace("/opt/eldergate/venv/bin/python", sys.executable))
    assert systemd_rating(unit) <= 2.0
    # a refused configuration (exit 2) is not restarted into a crash loop
    assert re.search(r"^RestartPreventExitStatus=2$", unit.read_text(), re.M)


@pytest.mark.slow
def test_install_script_in_a_throwaway_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    env = {**clean_env(), "DESTDIR": str(root), "PYTHON": sys.executable}
    res = subprocess.run(["bash", str(ROOT / "systemd" / "install.sh")], env=env, capture_output=True, text=True,
                         timeout=900)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    program = root / "opt/eldergate/venv/bin/eldergate"
    assert subprocess.run([str(program), "--version"], capture_output=True, text=True).stdout.startswith("eldergate")
    expect = {
        "etc/systemd/system/eldergate.service": 0o644, "etc/udev/rules.d/99-eldergate.rules": 0o644,
        "usr/lib/sysusers.d/eldergate.conf": 0o644, "etc/eldergate": 0o750, "etc/eldergate/secrets": 0o750,
        "etc/eldergate/home.toml": 0o640,
    }
    for rel, mode in expect.items():
        assert stat.S_IMODE((root / rel).stat().st_mode) == mode, rel
    # the installed program checks the installed example: well formed, and it names exactly the secrets and
    # certificates the installer must still put in place (exit 2 until they are there)
    check = subprocess.run([str(program), "check-config", str(root / "etc/eldergate/home.toml")],
                           capture_output=True, text=True)
    assert check.returncode == 2 and "Traceback" not in check.stderr, check.stderr
    assert "uplink.ca_file" in check.stderr and "notify_file" in check.stderr
    (root / "etc/eldergate/home.toml").write_text("# the installer's own edits\n")
    again = subprocess.run(["bash", str(ROOT / "systemd" / "install.sh")], env=env, capture_output=True, text=True,
                           timeout=900)
    assert again.returncode == 0 and "keeping the existing" in again.stdout
    assert (root / "etc/eldergate/home.toml").read_text() == "# the installer's own edits\n"
    un = subprocess.run(["bash", str(ROOT / "systemd" / "install.sh"), "--uninstall"], env=env, capture_output=True,
                        text=True)
    assert un.returncode == 0
    assert not (root / "opt/eldergate").exists() and not (root / "etc/systemd/system/eldergate.service").exists()
    assert (root / "etc/eldergate/home.toml").exists()  # configuration kept
    subprocess.run(["bash", str(ROOT / "systemd" / "install.sh"), "--purge"], env=env, check=True,
                   capture_output=True)
    assert not (root / "etc/eldergate").exists()


def _notify_socket(tmp_path: Path) -> tuple[socket.socket, str]:
    path = str(tmp_path / "notify.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(0.2)
    return s, path


def _collect(sock: socket.socket, seconds: float) -> list[str]:
    got: list[str] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            got += sock.recv(4096).decode().split("\n")
        except TimeoutError:
            pass
    return got


def _config(tmp_path: Path) -> Path:
    text = (ROOT / "config" / "demo.toml").read_text()
    text = text.replace('"emulated:bed_radar"', f'"{tmp_path / "none1"}"').replace(
        '"emulated:room_radar"', f'"{tmp_path / "none2"}"').replace(
        'state_dir = "/tmp/eldergate-demo"', f'state_dir = "{tmp_path / "state"}"')
    cfg = tmp_path / "home.toml"
    cfg.write_text(text)
    return cfg


def test_ready_then_periodic_watchdog_pings_from_a_running_gateway(tmp_path: Path) -> None:
    sock, path = _notify_socket(tmp_path)
    env = {**clean_env(), "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000"}
    proc = subprocess.Popen(eldergate_cmd("run", "--config", str(_config(tmp_path))), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        got: list[str] = []
        end = time.monotonic() + 60.0  # start-up: however long a loaded machine takes, up to a minute
        while time.monotonic() < end and "READY=1" not in got:
            got += _collect(sock, 0.5)
        end = time.monotonic() + 8.0  # then pings every 0.5 s: five of them well within 8 s
        while time.monotonic() < end and got.count("WATCHDOG=1") < 5:
            got += _collect(sock, 0.5)
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
        sock.close()
    assert "READY=1" in got
    assert got.count("WATCHDOG=1") >= 5  # every 0.5 s for WatchdogSec=1 s
    assert any(x.startswith("STATUS=") and "readings" in x for x in got)


def test_watchdog_pings_stop_when_the_core_loop_hangs(tmp_path: Path) -> None:
    sock, path = _notify_socket(tmp_path)
    cfg = parse_config({
        "gateway": {"site": "s", "id": "g", "state_dir": str(tmp_path)},
        "residents": [{"id": "r1", "display_name": "x", "birth_year": 1940}],
        "rooms": [{"id": "hall", "name": "hall"}],
        "sensors": [{"id": "door", "protocol": "zigbee2mqtt", "role": "door", "room": "hall",
                     "mqtt": {"topic": "zigbee2mqtt/door"}}],
    })
    gw = Gateway(cfg, [], tick_s=0.05, mqtt=False)
    gw.start()
    th = threading.Thread(target=gw.run, daemon=True)
    th.start()
    hang = threading.Event()
    real_process = gw.home.process

    def stuck_process(r: object) -> list[object]:
        hang.wait(30)  # a bug that never returns
        return real_process(r)  # type: ignore[arg-type]

    notifier = SystemdNotifier(path)
    dog = Watchdog(notifier, 0.2, gw.stuck, gw.status_line, gw.stop_event)
    threading.Thread(target=dog.run, daemon=True).start()
    try:
        before = _collect(sock, 1.0)
        assert before.count("WATCHDOG=1") >= 3
        gw.home.process = stuck_process  # type: ignore[method-assign]
        gw.bus.publish("zigbee2mqtt/door", json.dumps({"contact": False}).encode())
        # the loop's limit is 5 s without a turn: waited for as the gateway itself judges it
        assert wait_for(lambda: gw.stuck() is not None, 15, 0.05)
        _collect(sock, 0.3)  # drain pings sent before the limit
        after = _collect(sock, 1.5)
        assert "WATCHDOG=1" not in after
        assert gw.stuck() is not None and "core loop" in (gw.stuck() or "")
    finally:
        hang.set()
        gw.stop()
        th.join(timeout=10)
        notifier.close()
        sock.close()
    os.environ.pop("NOTIFY_SOCKET", None)
