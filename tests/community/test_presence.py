"""One voice on ``_server/status`` however many ingest workers run (#19): the worker holding a
PostgreSQL advisory lock says "online" and carries the last will; a killed non-owner changes
nothing the gateways see; a killed owner's will says "offline" and a survivor says "online" within
seconds (which is when every gateway resends, once)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from broker import Mosquitto
from community_proc import ingest_worker, init_server, share_ingest
from pg import Postgres
from testutil import wait_for

pytestmark = [pytest.mark.broker, pytest.mark.slow]
OWNS = "this process owns it"
SILENT = "another ingest process owns it"


def test_one_owner_says_online_and_a_survivor_takes_over(tmp_path: Path, mosquitto: Mosquitto,
                                                          postgres: Postgres) -> None:
    db = postgres.create_db("presence")
    toml = init_server(tmp_path, "s1", db)
    folder = toml.parent
    share_ingest(toml)
    procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(name: str) -> None:
        procs[name] = ingest_worker(folder, folder / f"{name}.log", "--config", str(toml), "--broker", mosquitto.url)

    def owner() -> str | None:
        owners = [n for n in procs if procs[n].poll() is None and OWNS in (folder / f"{n}.log").read_text()]
        return owners[-1] if owners else None

    heard: list[tuple[float, str, bool]] = []
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    sub.on_message = lambda _c, _u, m: heard.append((time.monotonic(), m.payload.decode(), bool(m.retain)))
    try:
        start("a")
        start("b")
        assert wait_for(lambda: owner() is not None, 30, 0.2)
        # the other one has looked, found the owner, and stays silent
        assert wait_for(lambda: sum(SILENT in (folder / f"{n}.log").read_text() for n in procs) == 1, 30, 0.1)
        assert sum(OWNS in (folder / f"{n}.log").read_text() for n in procs) == 1
        sub.connect("127.0.0.1", mosquitto.port)
        sub.subscribe("eldergate/v1/_server/status", 1)
        sub.loop_start()
        assert wait_for(lambda: len(heard) == 1, 10) and '"online"' in heard[0][1] and heard[0][2]  # the retained copy

        first = owner()
        assert first is not None
        other = "b" if first == "a" else "a"
        procs[other].kill()  # SIGKILL a worker that does not own the status: the gateways see nothing
        # the broker has seen it go (its session, and any will it had, are dealt with by then)
        gone = f"-ingest-{procs[other].pid}"

        def seen_gone() -> bool:
            lines = mosquitto.log.read_text().splitlines()
            return any(gone in line and "closed its connection" in line for line in lines)
        assert wait_for(seen_gone, 30, 0.1), mosquitto.log.read_text()[-2000:]
        start("c")
        assert wait_for(lambda: SILENT in (folder / "c.log").read_text(), 30, 0.1)  # c looked: silent too
        assert len(heard) == 1, heard
        procs[first].kill()  # SIGKILL the owner: its will, then the survivor's "online"
        assert wait_for(lambda: any('"online"' in p and not r for _t, p, r in heard[1:]), 15), heard
        live = [p for _t, p, r in heard[1:] if not r]
        assert '"offline"' in live[0] and '"online"' in live[-1]
        assert owner() == "c"
    finally:
        sub.disconnect()
        sub.loop_stop()
        for p in procs.values():
            if p.poll() is None:
                p.terminate()
            p.wait(15)
