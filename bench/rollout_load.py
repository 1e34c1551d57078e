"""A rollout wave's load on the server (#34): N contract-level boxes (tests/contract_gateways.py:
they answer an update as a real box ends up answering it, confirmed in their retained status) on
one Mosquitto (the shipped delivery settings) and one `eldergate community serve` on SQLite or
PostgreSQL; a real signed bundle (the project's own wheel) added with `community release add`.

    .venv/bin/python bench/rollout_load.py [--boxes 10000] [--db sqlite|pg] [--waves 3] [--check 5]

Measured, from the outside: for each stage (the canary, 1 %, then the waves), the time from the
stage's start until every box of it has confirmed; the whole rollout's time; the CPU seconds of
the server and the broker; and what a person feels meanwhile: three probe homes raise a fresh
fall every second, receipt p50/p99 before the rollout and during it (goal, issue #37: p99 < 1 s).
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
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from community_load import cpu_s, family  # bench/community_load.py
from releases import project_wheel, retag

from eldergate.contract.releases import build, new_key

from broker import Mosquitto
from community_proc import CommunityServer, community
from contract_gateways import Figures, fleet, percentile, shutdown
from pg import Postgres
from shipped_broker import delivery_settings
from testutil import wait_for

GOAL_FRESH_P99_S = 1.0


def _registry(path: Path, boxes: list[Any]) -> None:
    rows = ["community,street,address,site,gateway,resident_id,name,birth_year"]
    rows += [f"{'p1' if b.site == 'probe' else 'c1'},新街,幸福路 {i} 号,{b.site},{b.gid},r1,住户{i},1938"
             for i, b in enumerate(boxes)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def _status(tmp: Path, cfg: tuple[str, ...]) -> dict[str, Any]:
    out = community("rollout", "status", *cfg, cwd=tmp)
    return dict(json.loads(out.stdout.splitlines()[0])) if out.stdout.strip() else {}


def run(n: int, db: str | None, waves: int, check_s: float) -> dict[str, Any]:
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    tmp = Path(tempfile.mkdtemp(prefix="eg-rollout-"))
    private, public = new_key()
    build(retag(project_wheel(tmp / "wheels"), "9.0.0", tmp / "wheels"), private, tmp / "eldergate-9.0.0.zip")
    broker = Mosquitto(tmp / "broker", defaults=True, extra=delivery_settings()).start()
    folder = tmp / "server"
    community("init", str(folder), "--community", "c1", *(("--db", db) if db else ()), cwd=tmp)
    (folder / "release.pub").write_bytes(public)
    toml = folder / "community.toml"
    toml.write_text(toml.read_text() + '\n[fleet]\nrelease_public_key_file = "release.pub"\n')
    cfg = ("--config", str(toml))
    fig, probe_fig = Figures(), Figures()
    boxes = fleet(n, [broker.url], fig, sites=10)
    probes = fleet(3, [broker.url], probe_fig, sites=1, seed=99)
    for i, p in enumerate(probes):  # homes of their own (another community: not in the rollout)
        p.site, p.gid = "probe", f"probe{i}"
    for b in boxes + probes:
        b.telemetry = False
    _registry(tmp / "homes.csv", boxes + probes)  # the probes are homes too, but not in the rollout (below)
    assert community("import-residents", str(tmp / "homes.csv"), *cfg, cwd=tmp).returncode == 0
    assert community("release", "add", str(tmp / "eldergate-9.0.0.zip"), *cfg, cwd=tmp).returncode == 0
    server = CommunityServer(folder, broker.url, extra=cfg).start()
    # the probes on an event loop of their own: a fall is not timed behind the 10,000 boxes' callbacks
    loop, probe_loop = asyncio.new_event_loop(), asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    probe_thread = threading.Thread(target=probe_loop.run_forever, daemon=True)
    thread.start()
    probe_thread.start()
    tasks: list[asyncio.Task[None]] = []
    probe_tasks: list[asyncio.Task[None]] = []
    stop = threading.Event()

    async def go() -> None:
        tasks.extend(asyncio.create_task(b.run(start_within=max(5.0, n / 500))) for b in boxes)

    async def go_probes() -> None:
        probe_tasks.extend(asyncio.create_task(p.run()) for p in probes)

    def falls() -> None:  # a fresh fall from each probe home every second, their receipts timed
        while not stop.wait(1.0):  # pace: one fall per probe per second
            for p in probes:
                probe_loop.call_soon_threadsafe(p.raise_alert)

    out: dict[str, Any] = {"boxes": n, "db": "pg" if db else "sqlite", "waves": waves, "check_s": check_s}
    try:
        asyncio.run_coroutine_threadsafe(go(), loop).result(10)
        asyncio.run_coroutine_threadsafe(go_probes(), probe_loop).result(10)
        assert wait_for(lambda: all(b.subscribed.is_set() for b in boxes + probes), 300, 0.5), "not connected"
        threading.Thread(target=falls, daemon=True).start()
        # the connection storm's backlog (every box's retained status) drained: six falls in a row fast
        out["settled"] = wait_for(lambda: len(probe_fig.receipt_latency) >= 6 and
                                  max(probe_fig.receipt_latency[-6:]) < 0.25, 120, 0.5)
        mark = len(probe_fig.receipt_latency)
        time.sleep(10)  # pace: a quiet baseline of fresh falls before the rollout
        before = probe_fig.receipt_latency[mark:]
        pids = family(server.proc.pid if server.proc else None)
        cpu0, brk0 = cpu_s(pids), cpu_s([broker.proc.pid] if broker.proc else [])
        t0 = time.monotonic()
        started = community("rollout", "start", "9.0.0", "--canary", "1", "--waves", str(waves), "--check",
                            f"{check_s}s", "--community", "c1", *cfg, cwd=tmp)
        assert started.returncode == 0, started.stderr
        stages: dict[int, float] = {}
        while time.monotonic() - t0 < 1800:
            st = _status(tmp, cfg)
            for stage, counts in st.get("per_stage", {}).items():
                if int(stage) not in stages and counts.get("confirmed", 0) == sum(counts.values()):
                    stages[int(stage)] = round(time.monotonic() - t0, 1)
            if st.get("state") in ("done", "halted"):
                break
            time.sleep(0.5)  # pace: how often the CLI asks
        during = probe_fig.receipt_latency[mark + len(before):]
        out |= {"state": _status(tmp, cfg).get("state"), "rollout_s": round(time.monotonic() - t0, 1),
                "stage_confirmed_at_s": stages, "boxes_on_new": sum(b.software == "9.0.0" for b in boxes),
                "cpu_server_s": round(cpu_s(pids) - cpu0, 1),
                "cpu_broker_s": round(cpu_s([broker.proc.pid] if broker.proc else []) - brk0, 1),
                "fresh_before_p50_ms": round(1000 * percentile(before, 0.5)),
                "fresh_before_p99_ms": round(1000 * percentile(before, 0.99)),
                "fresh_during_p50_ms": round(1000 * percentile(during, 0.5)) if during else None,
                "fresh_during_p99_ms": round(1000 * percentile(during, 0.99)) if during else None}
    finally:
        stop.set()
        asyncio.run_coroutine_threadsafe(shutdown(boxes, tasks), loop).result(60)
        asyncio.run_coroutine_threadsafe(shutdown(probes, probe_tasks), probe_loop).result(60)
        for lp, th in ((loop, thread), (probe_loop, probe_thread)):
            lp.call_soon_threadsafe(lp.stop)
            th.join(10)
            lp.close()
        server.stop()
        broker.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--boxes", type=int, default=10_000)
    ap.add_argument("--db", choices=["sqlite", "pg"], default="sqlite")
    ap.add_argument("--waves", type=int, default=3)
    ap.add_argument("--check", type=float, default=5.0, help="seconds each stage is given and watched")
    args = ap.parse_args()
    pg = Postgres(durable=True).start() if args.db == "pg" else None
    try:
        row = run(args.boxes, pg.create_db("rollout") if pg else None, args.waves, args.check)
    finally:
        if pg is not None:
            pg.cleanup()
    print(f"{row['boxes']} boxes on {row['db']}, one Mosquitto, one serve; this machine, 2 cores, everything on it")
    print(f"  rollout {row['state']} in {row['rollout_s']} s ({row['boxes_on_new']} boxes on the new release); "
          f"stage confirmed at (s from start): {row['stage_confirmed_at_s']} (check {row['check_s']} s per stage)")
    print(f"  CPU during the rollout: server {row['cpu_server_s']} s, broker {row['cpu_broker_s']} s")
    print(f"  a fresh fall's receipt: before p50 {row['fresh_before_p50_ms']} / p99 {row['fresh_before_p99_ms']} ms, "
          f"during p50 {row['fresh_during_p50_ms']} / p99 {row['fresh_during_p99_ms']} ms "
          f"(goal p99 < {GOAL_FRESH_P99_S * 1000:.0f} ms)")
    print(json.dumps(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
