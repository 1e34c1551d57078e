"""What open wall screens and a burst of requests cost the community server (#32), used by
``bench/community.py --part screens``: `/api/v1/health` latency with 0 and 500 idle live streams
(`/wall/events`) open, and the PostgreSQL connections the server holds under 1,000 concurrent
requests (sampled from pg_stat_activity every 20 ms). Raw sockets on asyncio; every loop bounded."""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import threading
import time
from collections import Counter
from typing import Any

GOALS = {"health_p99_ms": 100.0}


async def _open_stream(port: int, path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".encode())
    await w.drain()
    head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 10)
    if b" 200 " not in head.split(b"\r\n", 1)[0]:
        w.close()
        return None
    return r, w


async def _drain(r: asyncio.StreamReader, stop: asyncio.Event) -> None:
    while not stop.is_set():  # bounded by the stop event the measurement sets
        try:
            if not await asyncio.wait_for(r.read(4096), 1):
                return
        except TimeoutError:
            continue


async def _get(port: int, path: str, token: str = "") -> tuple[int, float]:
    t0 = time.perf_counter()
    r, w = await asyncio.open_connection("127.0.0.1", port)
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    w.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: close\r\n\r\n".encode())
    await w.drain()
    status_line = await asyncio.wait_for(r.readline(), 60)
    await asyncio.wait_for(r.read(), 60)
    w.close()
    return int(status_line.split()[1]), (time.perf_counter() - t0) * 1000


async def _health_latencies(port: int, n: int) -> list[float]:
    out = []
    for _ in range(n):
        _, ms = await _get(port, "/api/v1/health")
        out.append(ms)
        await asyncio.sleep(0.01)
    return out


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(q * len(xs)))], 1)


async def _streams_run(port: int, wall_path: str, streams: int, samples: int) -> dict[str, Any]:
    base = await _health_latencies(port, samples)
    stop = asyncio.Event()
    opened = await asyncio.gather(*(_open_stream(port, wall_path) for _ in range(streams)), return_exceptions=True)
    live = [o for o in opened if isinstance(o, tuple)]
    drains = [asyncio.create_task(_drain(r, stop)) for r, _ in live]
    await asyncio.sleep(2)
    loaded = await _health_latencies(port, samples)
    stop.set()
    for _, w in live:
        w.close()
    await asyncio.gather(*drains, return_exceptions=True)
    return {"streams": len(live), "health_p50_ms_idle": round(statistics.median(base), 1),
            "health_p99_ms_idle": _pct(base, 0.99), "health_p50_ms": round(statistics.median(loaded), 1),
            "health_p99_ms": _pct(loaded, 0.99)}


def streams(port: int, wall_path: str, n: int = 500, samples: int = 200) -> dict[str, Any]:
    return asyncio.run(_streams_run(port, wall_path, n, samples))


def connections_under_burst(port: int, token: str, psql: list[str], requests: int = 1000) -> dict[str, Any]:
    """The most connections pg_stat_activity showed for the server's database during the burst."""
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():  # bounded: the burst sets stop
            out = subprocess.run([*psql, "-Atc", "SELECT count(*) FROM pg_stat_activity WHERE datname = 'bench' "
                                  "AND pid <> pg_backend_pid()"],  # not the sampler's own connection
                                 capture_output=True, text=True, timeout=10).stdout.strip()
            if out.isdigit():
                peak[0] = max(peak[0], int(out))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()

    async def burst() -> list[int]:
        got = await asyncio.gather(*(_get(port, "/api/v1/alerts?limit=5", token) for _ in range(requests)),
                                   return_exceptions=True)
        return [g[0] if isinstance(g, tuple) else 0 for g in got]

    t0 = time.perf_counter()
    codes = asyncio.run(burst())
    seconds = time.perf_counter() - t0
    stop.set()
    sampler.join(5)
    failed = Counter(c for c in codes if c != 200)
    return {"requests": requests, "ok": codes.count(200), "failed": len(codes) - codes.count(200),
            "failed_by_status": {str(k): v for k, v in sorted(failed.items())},  # 0: the connection itself failed
            "seconds": round(seconds, 1), "peak_connections": peak[0]}
