"""Run ``eldergate run`` as a separate process for the reliability tests."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import tomllib
from pathlib import Path
from typing import Any

from testutil import clean_env, eldergate_cmd, wait_for

SUBSCRIBED = "local broker: subscribed"  # gateway/links/mqtt_source.py logs it on each SUBACK


def write_config(path: Path, local_url: str, community_url: str | None, state: Path, n_leaks: int = 1,
                 resend_after: float = 2.0, extra_uplink: dict[str, Any] | None = None) -> Path:
    lines = [
        '[gateway]\nsite = "s1"\nid = "gw1"\n', f'state_dir = "{state}"\n',
        '[[residents]]\nid = "r1"\ndisplay_name = "x"\nbirth_year = 1940\n',
        '[[rooms]]\nid = "kitchen"\nname = "k"\n',
        f'[local_mqtt]\nurl = "{local_url}"\n',
        '[notifications]\nenabled = false\n',  # nobody to push to in these homes: the server is told
    ]
    for i in range(n_leaks):
        lines.append(f'[[sensors]]\nid = "leak{i}"\nprotocol = "zigbee2mqtt"\nrole = "water_leak"\nroom = "kitchen"\n'
                     f'mqtt = {{ topic = "zigbee2mqtt/leak{i}" }}\n')
    if community_url is not None:
        lines.append(f'[uplink]\nbroker_url = "{community_url}"\nresend_after = {resend_after}\nheartbeat = 2\n')
        for k, v in (extra_uplink or {}).items():
            lines.append(f'{k} = "{v}"\n')
    path.write_text("".join(lines))
    tomllib.loads(path.read_text())
    return path


class GatewayProcess:
    def __init__(self, config: Path, log: Path) -> None:
        self.config, self.log = config, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> GatewayProcess:
        with self.log.open("ab") as fh:
            self.proc = subprocess.Popen(eldergate_cmd("run", "--config", str(self.config)), stdout=fh,
                                         stderr=subprocess.STDOUT, env=clean_env())
        return self

    def wait_subscribed(self, times: int = 1, timeout: float = 60.0) -> None:
        """Until the box listens to its detectors (the ``times``-th SUBACK since its log began): a
        detector message published before would be lost, as on a real home broker."""
        def ready() -> bool:
            return self.log.exists() and self.log.read_text(errors="replace").count(SUBSCRIBED) >= times

        assert wait_for(ready, timeout, 0.1), f"the gateway never subscribed: {self.log.read_text()[-1500:]}"

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            return self.proc.wait(timeout=10)
        return self.proc.returncode


def db_query(state: Path, sql: str) -> list[tuple[Any, ...]]:
    db = state / "eldergate.db"
    if not db.exists():
        return []
    with sqlite3.connect(db, timeout=10) as conn:
        try:
            return conn.execute(sql).fetchall()
        except sqlite3.OperationalError:
            return []
