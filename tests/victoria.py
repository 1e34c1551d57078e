"""A real server speaking the InfluxDB v2 write API: VictoriaMetrics from Debian, on loopback."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

from broker import free_port, owns_listener

VICTORIA = shutil.which("victoria-metrics")


class VictoriaMetrics:
    def __init__(self, workdir: Path) -> None:
        if VICTORIA is None:
            raise RuntimeError("victoria-metrics is not installed (scripts/test installs it)")
        self.port = free_port()
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> VictoriaMetrics:
        assert VICTORIA is not None
        with (self.workdir / "vm.log").open("ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen([VICTORIA, f"-httpListenAddr=127.0.0.1:{self.port}",
                                          f"-storageDataPath={self.workdir / 'data'}", "-retentionPeriod=100y",
                                          "-search.latencyOffset=0s", "-search.disableCache"],
                                         stdout=log, stderr=subprocess.STDOUT)
        end = time.monotonic() + 20
        while time.monotonic() < end:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=0.5) as r:
                    if r.status == 200 and owns_listener(self.proc.pid, self.port):  # ours, not a stranger's
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("victoria-metrics did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
        self.proc = None

    def export(self, metric: str) -> list[dict[str, object]]:
        """Every series of a metric (measurement_field), with its samples."""
        urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=5).read()
        q = urllib.parse.quote(f'{{__name__="{metric}"}}')
        with urllib.request.urlopen(f"{self.url}/api/v1/export?match[]={q}&start=0", timeout=10) as r:
            return [json.loads(x) for x in r.read().decode().splitlines() if x.strip()]

    def count(self, metric: str) -> int:
        return sum(len(s["values"]) for s in self.export(metric))  # type: ignore[arg-type]
