"""The shipped deploy/mosquitto-community.conf on free loopback ports, with a PKI and an identity
store made by eldergate's own commands (`community ca init|issue`, `community broker init`)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from broker import MOSQUITTO, free_port, owns_listener
from testutil import ROOT, clean_env, eldergate_cmd

SHIPPED = ROOT / "deploy" / "mosquitto-community.conf"
SHIPPED_PLUGIN = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"


def delivery_settings() -> str:
    """The shipped file's delivery section (persistence, windows, queues): what the load tests
    run on, TLS and identities aside."""
    text = SHIPPED.read_text()
    return text[text.index("# -- delivery"):]


def _plugin() -> str:
    if Path(SHIPPED_PLUGIN).exists():
        return SHIPPED_PLUGIN
    out = subprocess.run(["dpkg", "-L", "mosquitto"], capture_output=True, text=True).stdout
    return next((line for line in out.splitlines() if line.endswith("mosquitto_dynamic_security.so")), SHIPPED_PLUGIN)


def _eg(*args: str) -> str:
    r = subprocess.run(eldergate_cmd("community", *args), capture_output=True, text=True, env=clean_env(), timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


class ShippedMosquitto:
    """``password_port``: boxes with their claimed credentials; ``cert_port``: client certificates."""

    def __init__(self) -> None:
        if MOSQUITTO is None:
            raise RuntimeError("mosquitto is not installed (scripts/test installs it)")
        # mosquitto drops to its own user: pytest's folders (0700) are closed to it
        self.top = Path(tempfile.mkdtemp(prefix="eldergate-shipped-"))
        self.top.chmod(0o755)
        self.pki = self.top / "pki"
        _eg("ca", "init", str(self.pki), "eldergate test CA")
        _eg("ca", "issue", str(self.pki), "broker", "--host", "127.0.0.1", "--host", "localhost")
        self.data = self.top / "data"
        self.data.mkdir()
        self.data.chmod(0o777)
        self.dynsec = self.data / "dynamic-security.json"
        self.server_credentials = self.top / "server.credentials"
        _eg("broker", "init", "--dynsec", str(self.dynsec), "--credentials", str(self.server_credentials))
        for p in [*self.pki.iterdir(), self.dynsec]:
            p.chmod(0o666 if p == self.dynsec else 0o644)  # for the broker's user; a real site chowns
        self.password_port, self.cert_port = free_port(), free_port()
        text = SHIPPED.read_text()
        assert "allow_anonymous false" in text and "plugin_opt_config_file" in text
        text = (text.replace("listener 8883", f"listener {self.password_port} 127.0.0.1")
                .replace("listener 8884", f"listener {self.cert_port} 127.0.0.1")
                .replace("/etc/eldergate/pki/", f"{self.pki}/")
                .replace("/var/lib/mosquitto/dynamic-security.json", str(self.dynsec))
                .replace(SHIPPED_PLUGIN, _plugin()))
        self.conf = self.top / "mosquitto.conf"
        self.conf.write_text(text + f"persistence_location {self.data}/\n")
        self.conf.chmod(0o644)
        self.log = self.top / "mosquitto.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtts://127.0.0.1:{self.password_port}"

    @property
    def ca(self) -> Path:
        return self.pki / "ca.crt"

    def start(self, timeout: float = 10.0) -> ShippedMosquitto:
        assert MOSQUITTO is not None
        with self.log.open("ab") as fh:
            self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=fh, stderr=subprocess.STDOUT)
        end = time.monotonic() + timeout
        while time.monotonic() < end and self.proc.poll() is None:
            if all(owns_listener(self.proc.pid, p) for p in (self.password_port, self.cert_port)):
                return self
            time.sleep(0.05)
        raise RuntimeError(f"the shipped Mosquitto did not start: {self.log.read_text()[-800:]}")

    def reload(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(1)  # SIGHUP

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        shutil.rmtree(self.top, ignore_errors=True)
