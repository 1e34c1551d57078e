"""A real Mosquitto for the tests, on a free loopback port, with persistence on disk."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import paho.mqtt.client as mqtt

from eldergate.gateway.tools.ports import free_port, owns_listener

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)


class Mosquitto:
    """Start, stop (SIGTERM: it saves its database), kill (SIGKILL) and restart on the same port."""

    def __init__(self, workdir: Path, port: int | None = None, extra: str = "", defaults: bool = False) -> None:
        """``defaults``: Mosquitto's own persistence settings (autosave every 30 min, 1,000 queued
        messages per client), as an operator's broker runs; otherwise it saves every second."""
        if MOSQUITTO is None:
            raise RuntimeError("mosquitto is not installed (scripts/test installs it)")
        self.port = port or free_port()
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        # Started as root, mosquitto drops to its own user, which must reach its database: pytest's
        # tmp_path is under a 0700 folder, so the database gets a world-writable folder of its own.
        self.dbdir = Path(tempfile.mkdtemp(prefix="eldergate-mosquitto-"))
        self.dbdir.chmod(0o777)
        self.conf = workdir / "mosquitto.conf"
        tuned = "" if defaults else "autosave_interval 1\nmax_queued_messages 100000\n"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {self.dbdir}/\n{tuned}{extra}"
        )
        self.log = workdir / "mosquitto.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> Mosquitto:
        assert MOSQUITTO is not None
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=log, stderr=subprocess.STDOUT)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    pass
                if owns_listener(self.proc.pid, self.port):
                    return self
                if self.proc.poll() is not None:
                    raise RuntimeError(f"port {self.port} is another program's: {self.log.read_text()[-300:]}")
                time.sleep(0.05)
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"mosquitto exited: {self.log.read_text()[-500:]}") from None
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def saved_after(self, t: float) -> bool:
        """Mosquitto has written its persistence file since ``t`` (unix time)."""
        db = self.dbdir / "mosquitto.db"
        return db.exists() and db.stat().st_mtime > t

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def cleanup(self) -> None:
        self.kill()
        shutil.rmtree(self.dbdir, ignore_errors=True)


def online(client: mqtt.Client, port: int, timeout: float = 5.0) -> mqtt.Client:
    """Connect ``client`` to the loopback broker on ``port``, start its loop and return it once the
    broker has answered: ``connect()`` returns before the CONNACK, and a QoS 1 publish in between
    fails with "not currently connected" (a test that lost a race, not a finding)."""
    client.connect("127.0.0.1", port)
    client.loop_start()
    end = time.monotonic() + timeout
    while not client.is_connected():
        if time.monotonic() > end:
            client.loop_stop()
            raise RuntimeError(f"the broker on port {port} did not accept the connection within {timeout} s")
        time.sleep(0.01)
    return client
