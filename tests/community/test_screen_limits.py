"""Open wall screens are bounded (#32): past the cap per wall key a new screen gets the "too many
screens" page and its stream a 503 (an EventSource does not retry that), a closed screen frees its
place, and the API stays quick with the streams open (one watcher per community, not a poll each)."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from broker import Mosquitto
from community_proc import CommunityServer, community, init_server
from pg import BIN as PG_BIN
from pg import Postgres, _as_postgres


def _open_stream(port: int, path: str) -> tuple[socket.socket, bytes]:
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:  # bounded by the socket's timeout
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    return s, head


def test_screens_past_the_cap_are_told_so_and_the_api_stays_quick(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "broker").start()
    toml = init_server(tmp_path, "cap")
    toml.write_text(toml.read_text().replace("[server]\n", "[server]\nmax_streams_per_viewer = 2\n", 1))
    key = community("wall-url", "--config", str(toml), cwd=tmp_path).stdout.strip().rsplit("key=", 1)[1]
    server = CommunityServer(toml.parent, broker.url, extra=("--config", str(toml))).start()
    sockets = []
    try:
        for _ in range(2):
            s, head = _open_stream(server.port, f"/wall/events?key={key}")
            sockets.append(s)
            assert head.startswith(b"HTTP/1.1 200"), head
        s, head = _open_stream(server.port, f"/wall/events?key={key}")
        s.close()
        assert head.startswith(b"HTTP/1.1 503"), head
        try:
            urllib.request.urlopen(f"{server.base}/wall?key={key}", timeout=10)
            raise AssertionError("a third screen was served")
        except urllib.error.HTTPError as err:
            assert err.code == 503 and 'id="too-many-screens"' in err.read().decode()
        started = time.perf_counter()
        for _ in range(20):
            with urllib.request.urlopen(f"{server.base}/api/v1/health", timeout=10) as r:
                assert r.status == 200
        assert time.perf_counter() - started < 20  # a sanity bound only; bench/community.py measures it
        # the stream's first event arrives, and a closed screen frees its place
        data = sockets[0].recv(4096)
        assert b"event: change" in data or b"retry:" in data
        sockets.pop().close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # the server notices the closed socket at its next write
            s, head = _open_stream(server.port, f"/wall/events?key={key}")
            if head.startswith(b"HTTP/1.1 200"):
                sockets.append(s)
                break
            s.close()
            time.sleep(0.5)  # pace: a retry every half second, to the deadline
        else:
            raise AssertionError("the closed screen's place was never freed")
    finally:
        for s in sockets:
            s.close()
        server.stop()
        broker.cleanup()


@pytest.mark.slow
def test_on_postgresql_a_burst_of_requests_stays_within_the_pool(tmp_path: Path, postgres: Postgres) -> None:
    """Before: CONN_MAX_AGE under ASGI drove connections to 195 of 200 ("too many clients")."""
    broker = Mosquitto(tmp_path / "broker").start()
    toml = init_server(tmp_path, "pool", postgres.create_db("pool"))
    toml.write_text(toml.read_text().replace("[server]\n", "[server]\ndb_pool_size = 4\nmax_streams_per_viewer = 50\n",
                                              1))
    key = community("wall-url", "--config", str(toml), cwd=tmp_path).stdout.strip().rsplit("key=", 1)[1]
    made = community("create-user", "pool-admin", "--role", "community-admin", "--community", "pool", "--token",
                     "--config", str(toml), cwd=tmp_path)
    token = made.stdout.strip().splitlines()[-1]
    server = CommunityServer(toml.parent, broker.url, extra=("--config", str(toml))).start()
    psql = _as_postgres([str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(postgres.port), "-U", "postgres",
                         "pool", "-Atc", "SELECT count(*) FROM pg_stat_activity WHERE datname = 'pool' "
                         "AND pid <> pg_backend_pid()"])
    peak, codes = [0], []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():  # bounded: set after the burst
            out = subprocess.run(psql, capture_output=True, text=True, timeout=10).stdout.strip()
            if out.isdigit():
                peak[0] = max(peak[0], int(out))
            time.sleep(0.02)

    def one(_: int) -> int:
        req = urllib.request.Request(f"{server.base}/api/v1/alerts?limit=5",
                                     headers={"Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return int(r.status)
        except urllib.error.HTTPError as err:
            return err.code

    # twelve open walls first: a stream lives for hours and must not hold one of the pool's four
    # connections (each ASGI request's sync code has a thread, and a connection, of its own)
    walls = [_open_stream(server.port, f"/wall/events?key={key}") for _ in range(12)]
    assert all(head.startswith(b"HTTP/1.1 200") for _, head in walls)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        with ThreadPoolExecutor(max_workers=100) as pool:
            codes = list(pool.map(one, range(300)))
    finally:
        stop.set()
        sampler.join(10)
        for s, _ in walls:
            s.close()
        server.stop()
        broker.cleanup()
    assert codes.count(200) == 300
    # the pool's 4, plus this process's two dedicated connections (LISTEN for the walls, presence)
    assert 1 <= peak[0] <= 4 + 2, peak[0]


def test_sigterm_with_walls_open_exits_within_five_seconds(tmp_path: Path) -> None:
    """An endless event stream must not hold a stop: the streams end at the signal (the pages show
    the gap and reconnect to the next server), and uvicorn's graceful wait is bounded."""
    import signal

    broker = Mosquitto(tmp_path / "broker").start()
    toml = init_server(tmp_path, "term")
    key = community("wall-url", "--config", str(toml), cwd=tmp_path).stdout.strip().rsplit("key=", 1)[1]
    server = CommunityServer(toml.parent, broker.url, extra=("--config", str(toml))).start()
    sockets = []
    try:
        for _ in range(3):
            s, head = _open_stream(server.port, f"/wall/events?key={key}")
            assert head.startswith(b"HTTP/1.1 200"), head
            sockets.append(s)
        assert server.proc is not None
        t0 = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        code = server.proc.wait(timeout=30)
        took = time.monotonic() - t0
        print(f"\nserve exited {took:.2f} s after SIGTERM with 3 wall streams open (code {code})")
        assert took <= 5.0, took
        assert code == 0, "the server's own cleanup ran (not killed by the re-raised signal)"
    finally:
        for s in sockets:
            s.close()
        server.kill()
        broker.cleanup()
