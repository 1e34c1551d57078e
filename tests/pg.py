"""A throw-away PostgreSQL cluster for the tests: initdb + pg_ctl as user postgres, on a free
loopback port, its socket in its own folder; stopped and removed afterwards."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from broker import free_port, owns_listener

BIN = next((p for p in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True) if (p / "initdb").exists()),
           None) if Path("/usr/lib/postgresql").exists() else None


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


class Postgres:
    def __init__(self, durable: bool = False) -> None:
        """``durable``: fsync on, as a production database runs (the benches); the tests skip it."""
        self.durable = durable
        if BIN is None:
            raise RuntimeError("PostgreSQL is not installed (scripts/test installs postgresql-15)")
        self.dir = Path(tempfile.mkdtemp(prefix="eg-pg-"))
        self.data, self.sock = self.dir / "data", self.dir / "sock"
        self.sock.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
            shutil.chown(self.sock, "postgres")
        self.port = 0

    def start(self, extra: str = "", standby_of: Postgres | None = None) -> Postgres:
        """``standby_of``: a streaming replica of that running cluster (pg_basebackup -R)."""
        if standby_of is None:
            subprocess.run(_as_postgres([str(BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                                         "-E", "UTF8", "--no-sync"]), check=True, capture_output=True)
        else:
            subprocess.run(_as_postgres([str(BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(standby_of.port),
                                         "-U", "postgres", "-D", str(self.data), "-R", "-X", "stream",
                                         "--no-sync"]), check=True, capture_output=True)
        for _ in range(5):
            self.port = free_port()
            opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.sock} -c max_connections=200 {extra}"
            opts += "" if self.durable else " -c fsync=off"
            subprocess.run(_as_postgres([str(BIN / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l",
                                         str(self.dir / "log"), "-w", "start"]), check=False, capture_output=True)
            pid = self._pid()
            if pid and owns_listener(pid, self.port):
                return self
            self.stop()
        raise RuntimeError(f"PostgreSQL did not start: {(self.dir / 'log').read_text()[-2000:]}")

    def promote(self) -> None:
        subprocess.run(_as_postgres([str(BIN / "pg_ctl"), "-D", str(self.data), "-w", "promote"]), check=True,
                       capture_output=True)

    def _pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def create_db(self, name: str) -> str:
        subprocess.run(_as_postgres([str(BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U",
                                     "postgres", name]), check=True, capture_output=True)
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        subprocess.run(_as_postgres([str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"]),
                       check=False, capture_output=True)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
