"""What one home's fall costs while other boxes flood (#29): `eldergate community serve` on its
embedded SQLite and a real Mosquitto (defaults), 1,000 honest gateways at the contract's rate
(tests/contract_gateways.py: vitals every 10 s, an event every 2 min), and a probe home that raises
a fresh fall every second. Three phases of --phase seconds each:

  * quiet: the honest fleet only;
  * 100x: ten gateways send vitals at 100 times the contract's rate (10 a second each);
  * 1000x: the same ten at 1,000 times (100 a second each: five times the per-gateway quota).

Printed per phase: the probe's fall receipt p50/p99 (send -> receipt, counted at the probe) beside
the goal (p99 < 1 s), and what the server refused by quota (its /api/v1/health counters).

    .venv/bin/python bench/ingest_flood.py [--gateways 1000] [--phase 20] [--json OUT]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from broker import Mosquitto
from community_proc import CommunityServer, admit_fleet, init_server
from contract_gateways import Figures, Gateway, brokers_of, fleet, percentile, shutdown, until

GOAL_P99_S = 1.0
CONTRACT_VITALS_PER_S = 0.1  # one vitals message every 10 s per gateway


def counters(server: CommunityServer) -> dict[str, int]:
    try:
        with urllib.request.urlopen(f"{server.base}/api/v1/health", timeout=5) as r:
            return dict(json.loads(r.read())["ingest"])
    except urllib.error.HTTPError as err:
        return dict(json.loads(err.read())["ingest"])


async def drive(n: int, phase_s: float, url: str, server: CommunityServer) -> list[dict[str, Any]]:
    fig, probe_fig, flood_fig = Figures(), Figures(), Figures()
    honest = fleet(n, [url], fig)
    flooders = fleet(10, [url], flood_fig, seed=3)
    for i, g in enumerate(flooders):
        g.gid, g.telemetry = f"flood{i:02d}", False
    probe = Gateway("probe", "probe-gw", brokers_of([url]), probe_fig, random.Random(1))
    probe.telemetry = False
    everyone = [*honest, *flooders, probe]
    tasks = [asyncio.create_task(g.run(start_within=5.0)) for g in everyone]
    if not await until(lambda: all(g.connected.is_set() for g in everyone), 120, 0.5):
        raise RuntimeError("the fleet did not connect")
    await asyncio.sleep(12)  # every gateway has started its telemetry
    rows = []
    for name, factor in (("quiet", 0), ("100x", 100), ("1000x", 1000)):
        probe_fig.receipt_latency.clear()
        before = counters(server)
        end = time.monotonic() + phase_s
        rate = CONTRACT_VITALS_PER_S * factor
        start = next_fall = time.monotonic()
        sent = 0
        while time.monotonic() < end:
            if time.monotonic() >= next_fall:
                probe.raise_alert("fall", "critical")
                next_fall += 1.0
            due = round(rate * len(flooders) * (time.monotonic() - start)) - sent  # each at `rate` a second
            for k in range(max(0, due)):
                g = flooders[k % len(flooders)]
                g._publish("vitals", g._msg(t=time.time(), resident="r1", heart_rate_bpm=70.0,
                                            breathing_rate_bpm=14.0, quality=0.5), qos=0)
                sent += 1
            await asyncio.sleep(0.05)
        await until(lambda: not probe.unreceipted, 30, 0.1)
        after = counters(server)
        lat = probe_fig.receipt_latency
        rows.append({"phase": name, "flood_msgs": sent, "falls": len(lat),
                     "p50_s": round(percentile(lat, 0.5), 3), "p99_s": round(percentile(lat, 0.99), 3),
                     "refused": sum(v - before.get(k, 0) for k, v in after.items() if k.startswith("refused_"))})
    await shutdown(everyone, tasks)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gateways", type=int, default=1000)
    ap.add_argument("--phase", type=float, default=20.0, help="seconds per phase")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="eg-flood-"))
    mosq = Mosquitto(tmp / "mosquitto", defaults=True).start()
    try:
        toml = init_server(tmp, "probe")
        admit_fleet(toml)
        server = CommunityServer(toml.parent, mosq.url, extra=("--config", str(toml))).start()
        try:
            rows = asyncio.run(drive(args.gateways, args.phase, mosq.url, server))
        finally:
            server.stop()
    finally:
        mosq.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{'phase':<7} {'flood msgs':>10} {'falls':>6} {'p50 s':>7} {'p99 s':>7} {'goal p99':>9} {'refused':>8}")
    for r in rows:
        ok = "ok" if r["p99_s"] < GOAL_P99_S else "MISSED"
        print(f"{r['phase']:<7} {r['flood_msgs']:>10} {r['falls']:>6} {r['p50_s']:>7.3f} {r['p99_s']:>7.3f} "
              f"{'< 1 s ' + ok:>9} {r['refused']:>8}")
    if args.json:
        args.json.write_text(json.dumps({"gateways": args.gateways, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
