"""``eldergate community serve`` as a separate process for the whole-path tests."""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from broker import free_port, owns_listener
from testutil import clean_env, eldergate_cmd, wait_for


def community(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(eldergate_cmd("community", *args), cwd=cwd, env=clean_env(), capture_output=True,
                          text=True, timeout=120)


def init_server(tmp_path: Path, community_id: str, db: str | None = None) -> Path:
    """``eldergate community init`` of a server folder (``tmp_path/server``), on ``db`` when given
    (else the embedded SQLite); returns its community.toml."""
    folder = tmp_path / "server"
    res = community("init", str(folder), "--community", community_id, *(("--db", db) if db else ()), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    return folder / "community.toml"


def register(toml: Path, site: str, gateway: str, cwd: Path) -> None:
    """Put one box in the registry (a home in community ``site`` with resident r1), as an import does."""
    csv = cwd / f"register-{site}-{gateway}.csv"
    csv.write_text("community,address,site,gateway,resident_id,name,birth_year\n"
                   f"{site},幸福路 1 号,{site},{gateway},r1,住户,1938\n", encoding="utf-8")
    res = community("import-residents", str(csv), "--config", str(toml), cwd=cwd)
    assert res.returncode == 0, res.stdout + res.stderr


def admit_fleet(toml: Path) -> None:
    """A thousand simulated boxes that are in no registry: let them all into quarantine at once
    (the server admits 60 unknown gateways a minute by default; docs/contract.md, "Limits")."""
    toml.write_text(toml.read_text() + "\n[ingest]\nnew_gateways_per_minute = 100000\n")


class CommunityServer:
    def __init__(self, folder: Path, broker_url: str, db: str | None = None, extra: tuple[str, ...] = (),
                 env: dict[str, str] | None = None) -> None:
        self.folder, self.broker_url, self.db, self.extra = folder, broker_url, db, extra
        self.env = env or {}
        folder.mkdir(parents=True, exist_ok=True)
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = folder / "serve.log"
        self.log_mark = 0  # where this start's lines begin in the log (restarts append)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> CommunityServer:
        for _ in range(5):
            self.port = self.port or free_port()
            args = ["serve", "--broker", self.broker_url, "--listen", f"127.0.0.1:{self.port}", *self.extra]
            if self.db:
                args += ["--db", self.db]
            self.log_mark = self.log.stat().st_size if self.log.exists() else 0
            with self.log.open("ab") as fh:
                self.proc = subprocess.Popen(eldergate_cmd("community", *args), cwd=self.folder, stdout=fh,
                                             stderr=subprocess.STDOUT, env={**clean_env(), **self.env})
            proc = self.proc
            up = wait_for(lambda p=proc: p.poll() is not None or owns_listener(p.pid, self.port), timeout)
            if up and proc.poll() is None and wait_for(self.healthy, timeout):
                return self
            self.kill()
            self.port = 0  # someone else had the port, or it did not come up: another one
        raise RuntimeError(f"the community server did not start:\n{self.log.read_text()[-3000:]}")

    def ingesting(self) -> bool:
        """This start's ingest has both its subscriptions (alerts, telemetry): what the broker
        receives from now on reaches it, even from a session the broker never saw before."""
        if not self.log.exists():
            return False
        with self.log.open("rb") as fh:
            fh.seek(self.log_mark)
            text = fh.read().decode(errors="replace")
        return "ingest subscribed" in text and "(alerts)" in text and "(telemetry)" in text

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base}/api/v1/health", timeout=2) as r:
                return bool(r.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode

    def api(self, token: str, path: str, method: str = "GET", body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(path if path.startswith("http") else f"{self.base}/api/v1{path}", data=data,
                                     method=method, headers={"Authorization": f"Bearer {token}",
                                                             "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def all_alerts(self, token: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        url: str | None = "/alerts?limit=200"
        while url:
            page = self.api(token, url)
            items += page["items"]
            url = page["next"]
        return items


def ingest_worker(folder: Path, log: Path, *args: str) -> subprocess.Popen[bytes]:
    """``serve --role ingest`` (with ``args``: --config, --broker …), its output in ``log``."""
    with log.open("ab") as fh:
        return subprocess.Popen(eldergate_cmd("community", "serve", *args, "--role", "ingest"), cwd=folder,
                                stdout=fh, stderr=subprocess.STDOUT, env=clean_env())


def share_ingest(toml: Path) -> None:
    """Several ingest workers on Mosquitto: ``[broker] shared = true`` ($share/, session expiry 0)."""
    toml.write_text(toml.read_text().replace('prefix = "eldergate/v1"', 'prefix = "eldergate/v1"\nshared = true'))


class WallStream:
    """An open ``/wall/events`` stream of a web process; the times of its change events."""

    def __init__(self, port: int, key: str, timeout: float = 60.0) -> None:
        self.changes: list[float] = []
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.conn.request("GET", f"/wall/events?key={key}")
        self.resp = self.conn.getresponse()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                line = self.resp.fp.readline()
            except (OSError, ValueError, AttributeError):  # closed under us at the end
                return
            if not line:
                return
            if line.startswith(b"event: change"):
                self.changes.append(time.monotonic())

    def close(self) -> None:
        self.conn.close()
