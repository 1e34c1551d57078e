"""The community server under load: ingest throughput and publish → receipt latency with 1, 100
and 1,000 simulated gateways, on SQLite and on PostgreSQL; peak RSS of ``serve``.

    .venv/bin/python bench/community.py [--gateways 1 100 1000] [--db sqlite postgresql] [--json OUT]
    .venv/bin/python bench/community.py --part screens [--db sqlite postgresql]

``--part screens`` (bench/screens_load.py): `/api/v1/health` p50/p99 with no and with 500 idle wall
streams open, and on PostgreSQL the connections the server holds under 1,000 concurrent requests
(goal: at most ``server.db_pool_size`` plus the two dedicated listeners).

A real Mosquitto and (for PostgreSQL) a throw-away cluster, both on loopback; the server is
``eldergate community serve`` in its own process (one process: web, ingest and timers). Each
simulated gateway sends a retained status, 3 alerts and 6 vitals messages under its own topics,
from four publisher connections in this process. Every alert's receipt is awaited on the
gateways' ``ack`` topics. Bounded: 10 messages per gateway. The broker's per-client queue is
raised to 100,000 (its default, 1,000, drops a burst's excess for one subscriber; the gateways'
resend-until-receipt would cover that in real life, but it would hide the server's own speed).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import screens_load

from broker import Mosquitto
from community_proc import CommunityServer, community
from pg import BIN as PG_BIN
from pg import Postgres, _as_postgres

ALERTS, VITALS = 3, 6
GOALS = {"throughput": 500.0, "p99_ms": 1000.0}  # msgs/s on this machine (a Pi is 4-8x slower); receipt p99


def _client(port: int, cid: str) -> mqtt.Client:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cid, protocol=mqtt.MQTTv5)
    c.max_queued_messages_set(0)
    c.max_inflight_messages_set(100)
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def _ingested(base: str) -> int:
    with urllib.request.urlopen(f"{base}/api/v1/health", timeout=5) as r:
        counts = json.loads(r.read())["ingest"]
    return int(counts.get("stored", 0) + counts.get("duplicate", 0) + counts.get("malformed", 0))


def run_size(n: int, broker: Mosquitto, server: CommunityServer, run: int) -> dict[str, Any]:
    sent_at: dict[str, float] = {}
    receipt_ms: list[float] = []
    done = threading.Event()
    expected = n * ALERTS
    lock = threading.Lock()

    def on_ack(_c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        body = json.loads(msg.payload)
        t = time.perf_counter()
        with lock:
            t0 = sent_at.pop(body["alert_id"], None)
            if t0 is not None:
                receipt_ms.append((t - t0) * 1000)
                if len(receipt_ms) >= expected:
                    done.set()

    listener = _client(broker.port, f"bench-acks-{run}")
    listener.on_message = on_ack
    listener.subscribe(f"eldergate/v1/b{run}/+/ack", qos=1)
    time.sleep(0.3)
    pubs = [_client(broker.port, f"bench-pub-{run}-{i}") for i in range(4)]
    before = _ingested(server.base)
    t_start = time.perf_counter()

    def publish(k: int) -> None:
        c = pubs[k]
        for g in range(k, n, len(pubs)):
            gw, now = f"gw{g}", time.time()
            base = f"eldergate/v1/b{run}/{gw}"
            common = {"v": 1, "site": f"b{run}", "gateway": gw, "sent_at": now}
            c.publish(f"{base}/status", json.dumps({**common, "state": "online"}), qos=1, retain=True)
            for i in range(VITALS):
                c.publish(f"{base}/vitals", json.dumps({**common, "t": now + 10 * i, "resident": "r1",
                                                        "heart_rate_bpm": 60 + i, "breathing_rate_bpm": 14,
                                                        "quality": 0.9}), qos=1)
            for i in range(ALERTS):
                aid = f"b{run}-{gw}-a{i}"
                body = {**common, "id": aid, "kind": "fall", "severity": "critical", "state": "raised",
                        "resident": "r1", "room": "bedroom", "sensor": "fall", "started": now, "raised_at": now,
                        "title_zh": "跌倒", "title_en": "fall"}
                with lock:
                    sent_at[aid] = time.perf_counter()
                c.publish(f"{base}/alerts", json.dumps(body), qos=1)

    threads = [threading.Thread(target=publish, args=(k,)) for k in range(len(pubs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = n * (1 + VITALS + ALERTS)
    deadline = time.perf_counter() + 120 + n * 0.2
    while time.perf_counter() < deadline and _ingested(server.base) - before < total:
        time.sleep(0.05)
    elapsed = time.perf_counter() - t_start
    got_all = done.wait(max(0.1, deadline - time.perf_counter()))
    for c in [*pubs, listener]:
        c.disconnect()
        c.loop_stop()
    processed = _ingested(server.base) - before
    receipt_ms.sort()
    return {
        "gateways": n, "messages": total, "processed": processed, "seconds": round(elapsed, 2),
        "throughput": round(processed / elapsed, 1), "receipts": len(receipt_ms), "all_receipts": got_all,
        "p50_ms": round(statistics.median(receipt_ms), 1) if receipt_ms else None,
        "p99_ms": round(receipt_ms[min(len(receipt_ms) - 1, int(0.99 * len(receipt_ms)))], 1) if receipt_ms else None,
    }


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def screens_part(dbs: list[str]) -> int:
    rows = []
    with tempfile.TemporaryDirectory(prefix="eg-bench-screens-") as tmp:
        root = Path(tmp)
        pg = Postgres().start() if "postgresql" in dbs else None
        try:
            for db in dbs:
                broker = Mosquitto(root / f"broker-{db}").start()
                folder = root / db
                url = pg.create_db("bench") if db == "postgresql" and pg is not None else None
                assert community("init", str(folder), "--community", "bench", *(("--db", url) if url else ()),
                                 cwd=root).returncode == 0
                toml = folder / "community.toml"
                # one wall key opens all 500 screens here; a deployment keeps the default of 10 per key
                toml.write_text(toml.read_text().replace("[server]\n", "[server]\nmax_streams_per_viewer = 1000\n", 1))
                made = community("create-user", "bench-admin", "--role", "community-admin", "--community", "bench",
                                 "--token", "--config", str(toml), cwd=root)
                token = made.stdout.strip().splitlines()[-1]
                key = community("wall-url", "--config", str(toml), cwd=root).stdout.strip().rsplit("key=", 1)[1]
                server = CommunityServer(folder, broker.url, extra=("--config", str(toml))).start()
                try:
                    row: dict[str, Any] = {"db": db, **screens_load.streams(server.port, f"/wall/events?key={key}")}
                    if pg is not None and db == "postgresql":
                        psql = [str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(pg.port), "-U", "postgres", "bench"]
                        row |= screens_load.connections_under_burst(server.port, token, _as_postgres(psql))
                    rows.append(row)
                    print(json.dumps(row), file=sys.stderr, flush=True)
                finally:
                    server.stop()
                    broker.cleanup()
        finally:
            if pg is not None:
                pg.cleanup()
    print(f"{'db':<11}{'streams':>8}{'health p50/p99 idle':>21}{'with streams':>15}{'burst ok':>10}{'peak conns':>12}")
    for r in rows:
        print(f"{r['db']:<11}{r['streams']:>8}{r['health_p50_ms_idle']:>12}/{r['health_p99_ms_idle']:<7}ms"
              f"{r['health_p50_ms']:>7}/{r['health_p99_ms']:<6}ms{r.get('ok', '-')!s:>10}"
              f"{r.get('peak_connections', '-')!s:>12}")
    print(f"goals: health p99 < {screens_load.GOALS['health_p99_ms']:g} ms with 500 streams open; PostgreSQL "
          "connections <= db_pool_size (20) + 2 dedicated listeners under 1,000 concurrent requests; baseline "
          "before #32: 0.9-2.5 s with 200 streams, 195 of 200 connections")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gateways", type=int, nargs="+", default=[1, 100, 1000])
    ap.add_argument("--db", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    ap.add_argument("--json", type=Path)
    ap.add_argument("--part", choices=["ingest", "screens"], default="ingest")
    ap.add_argument("--mosquitto", action="append", default=[], metavar="LINE",
                    help="an extra line for the broker's configuration (repeatable), e.g. 'set_tcp_nodelay true'")
    args = ap.parse_args()
    if args.part == "screens":
        return screens_part(args.db)
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="eg-bench-community-") as tmp:
        root = Path(tmp)
        pg = Postgres().start() if "postgresql" in args.db else None
        broker: Mosquitto | None = None
        try:
            for db in args.db:
                # a broker per database: no retained statuses from the other run
                extra = "".join(f"{line}\n" for line in ["max_queued_messages 100000", *args.mosquitto])
                broker = Mosquitto(root / f"broker-{db}", extra=extra).start()
                folder = root / db
                url = pg.create_db("bench") if db == "postgresql" and pg is not None else None
                assert community("init", str(folder), *(("--db", url) if url else ()), cwd=root).returncode == 0
                server = CommunityServer(folder, broker.url, extra=("--config", str(folder / "community.toml")))
                server.start()
                try:
                    for run, n in enumerate(args.gateways):
                        row = {"db": db, **run_size(n, broker, server, run)}
                        results.append(row)
                        print(json.dumps(row), file=sys.stderr, flush=True)
                    assert server.proc is not None
                    rss = peak_rss_mb(server.proc.pid)
                    for row in results:
                        if row["db"] == db:
                            row["serve_peak_rss_mb"] = rss
                finally:
                    server.stop()
                    broker.cleanup()
        finally:
            if pg is not None:
                pg.cleanup()
    print(f"{'db':<11}{'gateways':>9}{'msgs':>7}{'msgs/s':>9}{'receipt p50':>13}{'p99':>9}{'all':>5}{'RSS MB':>8}")
    for r in results:
        print(f"{r['db']:<11}{r['gateways']:>9}{r['processed']:>7}{r['throughput']:>9}{r['p50_ms']!s:>11}ms"
              f"{r['p99_ms']!s:>7}ms{'yes' if r['all_receipts'] else 'NO':>5}{r['serve_peak_rss_mb']:>8}")
    print(f"goals: >= {GOALS['throughput']:g} msgs/s here (a Pi is 4-8x slower), receipt p99 <= "
          f"{GOALS['p99_ms']:g} ms at 100 gateways; baseline: the in-memory test double receipts before storing")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
