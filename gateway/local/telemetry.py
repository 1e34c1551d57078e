"""Telemetry to InfluxDB (the v2 write API; VictoriaMetrics speaks it too), with an offline spool.

Points (schema in docs/telemetry.md), tagged with site, gateway and resident/room/sensor:

| measurement | fields | when |
| --- | --- | --- |
| vitals | heart_rate_bpm, breathing_rate_bpm, quality | every ``vitals_every`` (10 s), not every frame |
| bed | in_bed (1/0) | on entry and exit |
| event | value (1 or the event's number), tag name | every event |
| daily_summary | bed_exits, turnovers, sleep_min, nap_min, active_min, falls, resting rates | each morning |
| sensor | frames, dropped_bytes, bad_checksum, malformed, silent | every minute |
| gateway | readings, queue, outbox_unsent, lane_dropped, uplink_up, cpu_s, rss_mb, spool(_dropped) | every minute |

The pipeline never waits for the database: points go to a bounded SQLite spool on the state
directory (oldest dropped first, counted) and a writer thread sends them in batches, retrying
with back-off; an outage loses nothing within the bound and catches up afterwards. Raw
waveforms are not sent unless ``telemetry.send_waveforms`` is set. influxdb-client is
imported only when telemetry is on (it costs about 50 MB of memory).
"""

from __future__ import annotations

import logging
import resource
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from eldergate.config.schema import Config
from eldergate.config.secrets import read_secret
from eldergate.drivers.errors import AuthenticationError, EldergateError, RejectedError, TransientError
from eldergate.drivers.readings import ChestDisplacement, Reading
from eldergate.gateway.core.output import Output
from eldergate.signal.model import Event, EventName, Observation
from eldergate.signal.summary import DailySummary

log = logging.getLogger(__name__)


def _escape_tag(v: str) -> str:
    return v.replace("\\", "\\\\").replace(",", "\\,").replace(" ", "\\ ").replace("=", "\\=")


def line(measurement: str, tags: dict[str, str], fields: dict[str, float | int | bool], t: float) -> str:
    """One point in line protocol, millisecond precision."""
    tag_s = "".join(f",{k}={_escape_tag(v)}" for k, v in sorted(tags.items()) if v)
    parts = []
    for k, v in fields.items():
        if isinstance(v, bool):
            parts.append(f"{k}={'true' if v else 'false'}")
        elif isinstance(v, int):
            parts.append(f"{k}={v}i")
        else:
            parts.append(f"{k}={v!r}")
    return f"{measurement}{tag_s} {','.join(parts)} {round(t * 1000)}"


class Spool:
    """A bounded queue of line-protocol points on disk; past the cap the oldest go, counted."""

    def __init__(self, path: Path, max_points: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # telemetry: a lost second on power loss is fine
        self._db.execute("CREATE TABLE IF NOT EXISTS spool (seq INTEGER PRIMARY KEY AUTOINCREMENT, line TEXT)")
        self._db.execute("CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER)")
        self._lock = threading.Lock()
        self.max_points = max_points

    def put(self, lines: list[str]) -> None:
        if not lines:
            return
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT INTO spool (line) VALUES (?)", [(x,) for x in lines])
            over = self._db.execute("SELECT count(*) FROM spool").fetchone()[0] - self.max_points
            if over > 0:
                self._db.execute("DELETE FROM spool WHERE seq IN (SELECT seq FROM spool ORDER BY seq LIMIT ?)", (over,))
                self._db.execute("INSERT INTO counters VALUES ('dropped', ?) ON CONFLICT(name) DO UPDATE SET "
                                 "value = value + excluded.value", (over,))
            self._db.execute("COMMIT")

    def take(self, n: int) -> list[tuple[int, str]]:
        with self._lock:
            return self._db.execute("SELECT seq, line FROM spool ORDER BY seq LIMIT ?", (n,)).fetchall()

    def done(self, last_seq: int) -> None:
        with self._lock:
            self._db.execute("DELETE FROM spool WHERE seq <= ?", (last_seq,))

    def size(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM spool").fetchone()[0])

    def dropped(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT value FROM counters WHERE name = 'dropped'").fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        with self._lock:
            self._db.close()


class TelemetrySink:
    """Turns pipeline outputs into points; batches them into the spool (never blocks on the network)."""

    def __init__(self, cfg: Config, spool: Spool, batch_s: float = 1.0) -> None:
        self.base = {"site": cfg.gateway.site, "gateway": cfg.gateway.id}
        self.spool = spool
        self.vitals_every = cfg.telemetry.vitals_every
        self.send_waveforms = cfg.telemetry.send_waveforms
        self._pending: list[str] = []
        self._last_vitals: dict[str, float] = {}
        self._rates: dict[str, dict[str, float]] = {}
        self._batch_s = batch_s
        self._last_flush = time.monotonic()
        self._lock = threading.Lock()

    def emit(self, item: Output) -> None:
        if isinstance(item, Observation):
            self._observation(item)
        elif isinstance(item, Event):
            tags = {**self.base, "resident": item.resident, "room": item.room, "sensor": item.sensor,
                    "name": str(item.name)}
            self._add(line("event", tags, {"value": float(item.value) if item.value is not None else 1.0}, item.t))
            if item.name in (EventName.BED_ENTRY, EventName.BED_RETURN, EventName.BED_EXIT):
                self._add(line("bed", {**self.base, "resident": item.resident},
                               {"in_bed": 0 if item.name == EventName.BED_EXIT else 1}, item.t))
        elif isinstance(item, DailySummary):
            j = item.to_json()
            fields = {k: float(j[k]) for k in ("bed_exits", "night_bed_exits", "turnovers", "sleep_min", "nap_min",
                                               "active_min", "falls", "resting_heart_rate_bpm",
                                               "resting_breathing_rate_bpm") if j.get(k) is not None}
            self._add(line("daily_summary", {**self.base, "resident": item.resident}, fields, item.period_end))
        elif self.send_waveforms and isinstance(item, ChestDisplacement):
            self._add(line("waveform", {**self.base, "sensor": item.sensor}, {"value": item.value}, item.t))
        self._maybe_flush()

    def reading(self, r: Reading) -> None:
        """Raw readings reach here only if waveforms were asked for."""
        if self.send_waveforms:
            self.emit(r)

    def _observation(self, o: Observation) -> None:
        if o.name not in ("heart_rate_bpm", "breathing_rate_bpm"):
            return
        rates = self._rates.setdefault(o.sensor, {})
        if isinstance(o.value, float):
            rates[o.name] = o.value
            if o.quality is not None:
                rates["quality"] = o.quality
        if o.name != "breathing_rate_bpm" or o.t - self._last_vitals.get(o.sensor, -1e18) < self.vitals_every:
            return
        self._last_vitals[o.sensor] = o.t
        if rates:
            self._add(line("vitals", {**self.base, "resident": o.resident, "sensor": o.sensor}, dict(rates), o.t))
        self._rates[o.sensor] = {}

    def point(self, measurement: str, tags: dict[str, str], fields: dict[str, float | int | bool], t: float) -> None:
        self._add(line(measurement, {**self.base, **tags}, fields, t))

    def _add(self, ln: str) -> None:
        with self._lock:
            self._pending.append(ln)

    def _maybe_flush(self) -> None:
        if time.monotonic() - self._last_flush >= self._batch_s:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            lines, self._pending = self._pending, []
            self._last_flush = time.monotonic()
        self.spool.put(lines)

    def close(self) -> None:
        self.flush()


SLOW_RETRY_S = 300.0  # refused credentials: try again every five minutes


def http_error(status: int, reason: str) -> EldergateError:
    """What an HTTP answer means for a retry: wrong credentials, try later, or wrong points."""
    text = f"HTTP {status} {reason}"
    if status in (401, 403):
        return AuthenticationError(text)
    if status == 429 or status >= 500 or status == 0:
        return TransientError(text)
    return RejectedError(text)


class TelemetryWriter:
    """Sends the spool to the database in batches, never raises. The error's type decides: a
    database that is down is retried with back-off, refused credentials slowly, and points
    it refuses as wrong (HTTP 4xx) are dropped and counted instead of retried forever."""

    def __init__(self, cfg: Config, spool: Spool, stop: threading.Event, batch: int = 5000,
                 write: Callable[[list[str]], None] | None = None, backoff: tuple[float, float] = (1.0, 60.0)) -> None:
        self.cfg, self.spool, self.stop = cfg, spool, stop
        self.batch = batch
        self._write = write or self._influx_writer()
        self.backoff = backoff
        self.up = False
        self.sent = 0
        self.rejected = 0  # points the database refused as wrong: dropped, counted, never retried
        self.last_error: str | None = None

    def _influx_writer(self) -> Callable[[list[str]], None]:
        from influxdb_client.client.influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS
        from influxdb_client.rest import ApiException
        from urllib3.exceptions import HTTPError

        t = self.cfg.telemetry
        token = read_secret(t.token_file, t.token_env) or ""
        if t.ca_file is not None:  # an https:// InfluxDB signed by the community's own CA
            client = InfluxDBClient(url=t.url, token=token, org=t.org, timeout=10_000, ssl_ca_cert=str(t.ca_file))
        else:
            client = InfluxDBClient(url=t.url, token=token, org=t.org, timeout=10_000)
        api = client.write_api(write_options=SYNCHRONOUS)

        def write(lines: list[str]) -> None:
            try:
                # the stubs type the precision as an enum; the library's own constant is the string "ms"
                api.write(bucket=t.bucket, org=t.org, record=lines, write_precision="ms")  # type: ignore[arg-type]
            except ApiException as err:
                raise http_error(int(err.status or 0), str(err.reason)) from err
            except HTTPError as err:
                raise TransientError(f"{type(err).__name__}: {err}") from err

        return write

    def run(self) -> None:
        delay = self.backoff[0]
        while not self.stop.is_set():
            rows = self.spool.take(self.batch)
            if not rows:
                self.stop.wait(1.0)
                continue
            try:
                try:
                    self._write([ln for _, ln in rows])
                except (OSError, TimeoutError) as err:  # the network: the same as any link that is down
                    raise TransientError(f"{type(err).__name__}: {err}") from err
            except EldergateError as err:
                text = f"{type(err).__name__}: {err}"[:200]
                if err.retry == "never":  # the database says these points are wrong: resending cannot help
                    if text != self.last_error:
                        log.error("telemetry database refused %d point(s): %s (dropped, counted)", len(rows), text)
                    self.last_error = text
                    self.rejected += len(rows)
                    self.spool.done(rows[-1][0])
                    continue
                if self.up or self.last_error != text:
                    log.warning("telemetry database unreachable (%s); spooling, %d point(s) waiting",
                                text, self.spool.size())
                self.up, self.last_error = False, text
                self.stop.wait(delay if err.retry == "backoff" else SLOW_RETRY_S)
                delay = min(delay * 2, self.backoff[1])
                continue
            if not self.up and self.last_error is not None:
                log.info("telemetry database reachable again; catching up")
            self.up, delay = True, self.backoff[0]
            self.spool.done(rows[-1][0])
            self.sent += len(rows)


def process_metrics() -> dict[str, float]:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return {"cpu_s": ru.ru_utime + ru.ru_stime, "rss_mb": ru.ru_maxrss / 1024}
