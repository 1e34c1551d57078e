"""A change in the registry reaching a city of boxes (#34): N contract-level boxes
(tests/contract_gateways.py: they take the server's configuration and report its version in their
retained status) on one Mosquitto (the shipped delivery settings) and one `eldergate community
serve` on the embedded SQLite or PostgreSQL.

    .venv/bin/python bench/fleet_config.py [--boxes 10000] [--db sqlite|pg] [--clients 8]

Measured, from the outside:
  * one change (PATCH /api/v1/residents/{id}, night_start) while every box is connected: PATCH →
    the box has it, and → GET /api/v1/gateways shows it applied, over 20 changes;
  * 500 residents' contacts changed from `--clients` concurrent API clients: the PATCH rate (a
    person's change, one resident at a time);
  * a change for every home at once (`eldergate community config-resend`, one statement): the time
    until every box has its new version, and until GET /api/v1/gateways shows every box applied;
    CPU seconds of the server and the broker for it.
Goal (issue #34): a change reaches 10,000 boxes in < 60 s on this 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shutil
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from community_load import cpu_s, family  # bench/community_load.py

from broker import Mosquitto
from community_proc import CommunityServer, community
from contract_gateways import Figures, fleet, percentile, shutdown
from pg import Postgres
from shipped_broker import delivery_settings
from testutil import wait_for

GOAL_S = 60.0


def _api(base: str, token: str, path: str, method: str = "GET", body: dict[str, Any] | None = None) -> Any:
    req = urllib.request.Request(f"{base}/api/v1{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


def _registry(path: Path, boxes: list[Any]) -> None:
    rows = ["community,address,site,gateway,resident_id,name,birth_year"]
    rows += [f"c1,幸福路 {i} 号,{b.site},{b.gid},r1,住户{i},1938" for i, b in enumerate(boxes)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def run(n: int, db: str | None, clients: int) -> dict[str, Any]:
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    tmp = Path(tempfile.mkdtemp(prefix="eg-fleet-"))
    broker = Mosquitto(tmp / "broker", defaults=True, extra=delivery_settings()).start()
    folder = tmp / "server"
    community("init", str(folder), "--community", "c1", *(("--db", db) if db else ()), cwd=tmp)
    cfg = ("--config", str(folder / "community.toml"))
    token = community("create-user", "li", "--role", "community-admin", "--community", "c1", "--token", *cfg,
                      cwd=tmp).stdout.strip().splitlines()[-1]
    fig = Figures()
    boxes = fleet(n, [broker.url], fig, sites=10)
    for b in boxes:
        b.telemetry = False
    _registry(tmp / "homes.csv", boxes)
    imported = community("import-residents", str(tmp / "homes.csv"), *cfg, cwd=tmp)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    server = CommunityServer(folder, broker.url, extra=cfg).start()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    tasks: list[asyncio.Task[None]] = []

    async def go() -> None:
        tasks.extend(asyncio.create_task(b.run(start_within=max(5.0, n / 500))) for b in boxes)
    out: dict[str, Any] = {"boxes": n, "db": "pg" if db else "sqlite"}
    try:
        asyncio.run_coroutine_threadsafe(go(), loop).result(10)
        assert wait_for(lambda: all(b.connected.is_set() for b in boxes), 300, 0.5), "the boxes did not connect"
        residents = {r["home"]: r["id"] for r in _api(server.base, token, "/residents")}
        homes = {(g["site"], g["gateway"]): g["home"] for g in _api(server.base, token, "/gateways")}
        by_box = {id(b): residents[homes[(b.site, b.gid)]] for b in boxes}
        time.sleep(5)  # the connection storm's backlog (every retained status) drained

        one, shown = [], []  # a single change, city connected
        for i in range(20):
            b = boxes[(i * 7919) % n]
            before = b.config_version
            t0 = time.monotonic()
            _api(server.base, token, f"/residents/{by_box[id(b)]}", "PATCH", {"night_start": f"22:{i:02d}"})
            wait_for(lambda b=b, v=before: b.config_version > v, 30, 0.005)
            one.append(time.monotonic() - t0)
            gid = b.gid
            wait_for(lambda gid=gid, v=b.config_version: any(
                g["gateway"] == gid and g["config_applied_version"] == v
                for g in _api(server.base, token, "/gateways")), 30, 0.05)
            shown.append(time.monotonic() - t0)
        out |= {"one_box_p50_ms": round(1000 * percentile(one, 0.5)), "one_box_max_ms": round(1000 * max(one)),
                "one_shown_p50_ms": round(1000 * percentile(shown, 0.5))}

        # people's changes, one resident at a time: the API's rate
        def change(b: Any) -> None:
            _api(server.base, token, f"/residents/{by_box[id(b)]}", "PATCH", {"contacts": [
                {"order": 1, "name": "儿子", "phone": "13900000002", "role": "child",
                 "notify_url": f"json://127.0.0.1:9/{b.gid}"}]})
        sample = boxes[: min(500, n)]
        t0 = time.monotonic()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(change, sample))
        patched = time.monotonic() - t0
        wait_for(lambda: all(b.config_version >= 2 for b in sample), 120, 0.1)

        # a change for every home at once
        targets = {id(b): b.config_version + 1 for b in boxes}
        pids = family(server.proc.pid if server.proc else None)
        cpu0, brk0 = cpu_s(pids), cpu_s([broker.proc.pid] if broker.proc else [])
        t0 = time.monotonic()
        resent = community("config-resend", *cfg, "--why", "bench", cwd=tmp)
        assert resent.returncode == 0, resent.stdout + resent.stderr
        reached = wait_for(lambda: all(b.config_version >= targets[id(b)] for b in boxes), 600, 0.1)
        at_boxes = time.monotonic() - t0

        def all_shown() -> bool:
            gws = _api(server.base, token, "/gateways")
            return sum(g["config_applied_version"] == g["config_desired_version"] for g in gws) == n
        shown_all = wait_for(all_shown, 600, 1.0)
        out |= {"patch_per_s": round(len(sample) / patched),
                "all_boxes_s": round(at_boxes, 1) if reached else None,
                "all_shown_s": round(time.monotonic() - t0, 1) if shown_all else None,
                "cpu_server_s": round(cpu_s(pids) - cpu0, 1),
                "cpu_broker_s": round(cpu_s([broker.proc.pid] if broker.proc else []) - brk0, 1)}
    finally:
        asyncio.run_coroutine_threadsafe(shutdown(boxes, tasks), loop).result(60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        server.stop()
        broker.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--boxes", type=int, default=10_000)
    ap.add_argument("--db", choices=["sqlite", "pg"], default="sqlite")
    ap.add_argument("--clients", type=int, default=8, help="concurrent API clients making the changes")
    args = ap.parse_args()
    pg = Postgres(durable=True).start() if args.db == "pg" else None
    try:
        row = run(args.boxes, pg.create_db("fleet") if pg else None, args.clients)
    finally:
        if pg is not None:
            pg.cleanup()
    print(f"{row['boxes']} boxes on {row['db']}, one Mosquitto, one serve; this machine, 2 cores, everything on it")
    print(f"  one change, city connected: PATCH → box p50 {row['one_box_p50_ms']} ms (max {row['one_box_max_ms']}), "
          f"→ shown applied p50 {row['one_shown_p50_ms']} ms")
    print(f"  people's changes: {row['patch_per_s']} PATCH/s (one resident each, {args.clients} clients)")
    print(f"  a change for every home (config-resend): every box has it after {row['all_boxes_s']} s, the server "
          f"shows all applied at {row['all_shown_s']} s (goal < {GOAL_S:.0f} s for the change to reach every box)")
    print(f"  CPU: server {row['cpu_server_s']} s, broker {row['cpu_broker_s']} s")
    print(json.dumps(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
