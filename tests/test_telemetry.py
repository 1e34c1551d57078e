"""Telemetry to a real InfluxDB-v2-API server (VictoriaMetrics): points read back, an outage spooled and caught up."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from victoria import VICTORIA, VictoriaMetrics

from eldergate.config.loader import parse_config
from eldergate.config.schema import Config
from eldergate.gateway.local.telemetry import Spool, TelemetrySink, TelemetryWriter
from eldergate.signal.model import Event, EventName, Observation

from testutil import wait_for

pytestmark = pytest.mark.skipif(VICTORIA is None, reason="scripts/test installs victoria-metrics")


@pytest.fixture
def vm(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    v = VictoriaMetrics(tmp_path / "vm").start()
    yield v
    v.stop()


def config(url: str, state: Path, spool_max: int = 200_000) -> Config:
    return parse_config({
        "gateway": {"site": "s1", "id": "gw1", "state_dir": str(state)},
        "residents": [{"id": "r1", "display_name": "x", "birth_year": 1940}],
        "rooms": [{"id": "bedroom", "name": "b"}],
        "sensors": [{"id": "bed", "protocol": "mr60bha2", "role": "bed_radar", "room": "bedroom",
                     "serial": {"port": "/dev/null"}}],
        "telemetry": {"enabled": True, "url": url, "vitals_every": 10, "spool_max_points": spool_max},
    })


def feed_vitals(sink: TelemetrySink, t0: float, seconds: int) -> None:
    for k in range(seconds):  # one estimate a second: one point every 10 s
        t = t0 + k
        sink.emit(Observation(t, "heart_rate_bpm", 60.0 + k % 5, "bed", "r1", 0.8, None, "bpm"))
        sink.emit(Observation(t, "breathing_rate_bpm", 14.0, "bed", "r1", 0.9, None, "1/min"))
    sink.flush()


def wait(pred: Callable[[], object], timeout: float = 60.0) -> bool:
    return wait_for(pred, timeout, 0.2)  # VictoriaMetrics is asked at most five times a second


def test_points_written_and_read_back_with_tags(vm: VictoriaMetrics, tmp_path: Path) -> None:
    cfg = config(vm.url, tmp_path)
    spool = Spool(tmp_path / "t.db", cfg.telemetry.spool_max_points)
    sink, stop = TelemetrySink(cfg, spool), threading.Event()
    writer = TelemetryWriter(cfg, spool, stop)
    th = threading.Thread(target=writer.run, daemon=True)
    th.start()
    try:
        t0 = time.time() - 600
        feed_vitals(sink, t0, 600)  # 10 minutes of estimates -> 60 vitals points, not 600
        sink.emit(Event(t0 + 5, EventName.BED_EXIT, "r1", "bedroom", "bed"))
        sink.flush()
        assert wait(lambda: vm.count("vitals_heart_rate_bpm") == 60)
        series = vm.export("vitals_heart_rate_bpm")
        labels = series[0]["metric"]
        assert labels["site"] == "s1" and labels["gateway"] == "gw1" and labels["resident"] == "r1"  # type: ignore[index]
        assert wait(lambda: vm.count("bed_in_bed") == 1 and vm.count("event_value") == 1)
    finally:
        stop.set()
        th.join(timeout=5)


def test_database_stopped_20s_nothing_lost_within_the_spool_bound(vm: VictoriaMetrics, tmp_path: Path) -> None:
    cfg = config(vm.url, tmp_path)
    spool = Spool(tmp_path / "t.db", cfg.telemetry.spool_max_points)
    sink, stop = TelemetrySink(cfg, spool), threading.Event()
    writer = TelemetryWriter(cfg, spool, stop, backoff=(0.5, 2.0))
    th = threading.Thread(target=writer.run, daemon=True)
    th.start()
    try:
        t0 = time.time() - 3600
        feed_vitals(sink, t0, 600)
        assert wait(lambda: vm.count("vitals_heart_rate_bpm") == 60)
        vm.stop()
        t_stop = time.monotonic()
        feed_vitals(sink, t0 + 600, 1800)  # 30 more minutes while the database is down
        assert wait(lambda: not writer.up and spool.size() >= 180, timeout=20)
        time.sleep(max(0.0, 20 - (time.monotonic() - t_stop)))  # fault: the database is down 20 s
        vm.start()
        assert wait(lambda: spool.size() == 0 and vm.count("vitals_heart_rate_bpm") == 240)
        print(f"\ntried: the database stopped 20 s while 180 points were written; survived: all 240 points "
              f"read back, {spool.dropped()} dropped")
    finally:
        stop.set()
        th.join(timeout=5)


def test_spool_is_bounded_oldest_dropped_and_counted(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "t.db", max_points=100)
    spool.put([f"m v={i}i {i}" for i in range(250)])
    assert spool.size() == 100 and spool.dropped() == 150
    assert spool.take(1)[0][1] == "m v=150i 150"  # the newest 100 are kept


class _Answering:
    """A local HTTP endpoint that answers every write with one status, and counts the writes."""

    def __init__(self, status: int) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        outer = self
        self.writes = 0

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.writes += 1
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"code":"invalid","message":"refused by the test"}')

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.mark.parametrize(("status", "dropped"), [(400, True), (422, True), (503, False), (401, False)])
def test_the_answer_decides_whether_points_are_retried(tmp_path: Path, status: int, dropped: bool) -> None:
    """Points the database refuses as wrong are dropped and counted, not retried forever; a database
    that is down (503) or refuses our token (401, retried slowly) keeps them spooled."""
    db = _Answering(status)
    cfg = config(db.url, tmp_path)
    spool = Spool(tmp_path / "t.db", cfg.telemetry.spool_max_points)
    spool.put([f"m v={i}i {i}" for i in range(10)])
    stop = threading.Event()
    writer = TelemetryWriter(cfg, spool, stop, backoff=(0.2, 0.5))
    th = threading.Thread(target=writer.run, daemon=True)
    th.start()
    try:
        assert wait(lambda: db.writes >= 1 and writer.last_error is not None, timeout=20)
        if dropped:
            assert wait(lambda: writer.rejected == 10 and spool.size() == 0)
            assert db.writes == 1
        elif status == 503:  # a down database is retried soon
            assert wait(lambda: db.writes >= 2)
            assert spool.size() == 10 and writer.rejected == 0
        else:  # a refused token, slowly (SLOW_RETRY_S): none within two fast retries' time
            time.sleep(1.0)  # pace: the window of the fast back-off (0.2-0.5 s), twice
            assert db.writes == 1 and spool.size() == 10 and writer.rejected == 0
    finally:
        stop.set()
        th.join(timeout=5)
        db.server.shutdown()
        db.server.server_close()
