"""The local status page for the installer and the visiting grid worker.

Served by the gateway itself (the standard library's HTTP server, no build step), bound to
127.0.0.1 by default: every sensor's state and last reading, the live bed-radar waveform and
vitals, the bed zone drawn against the current target position, the open alerts, and the
gateway's own figures. ``/`` is the page; ``/api/status`` the JSON it polls every second.
The waveform stays on the box: the page is local.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

from eldergate.config.schema import Config
from eldergate.drivers.readings import Alarm, Battery, ChestDisplacement, Contact, Presence, Reading, Targets
from eldergate.gateway.core.alerts import Alert, AlertState
from eldergate.gateway.core.health import SensorHealth
from eldergate.gateway.core.output import Output
from eldergate.gateway.core.texts import alert_name, event_name
from eldergate.signal.model import Event, EventName, Observation

log = logging.getLogger(__name__)
WAVE_POINTS = 300  # about 30 s at 10 Hz


class StatusModel:
    """What the page shows, updated from the core loop; read from the HTTP threads under a lock."""

    def __init__(self, cfg: Config, metrics: Callable[[], dict[str, Any]],
                 sensor_stats: Callable[[], dict[str, SensorHealth]], clock: Callable[[], float] = time.time
                 ) -> None:
        self.cfg = cfg
        self.metrics, self.sensor_stats = metrics, sensor_stats
        self.clock = clock  # the gateway's own time: ages are judged on it (the demo's is simulated)
        self.rooms = cfg.room_names()
        self._lock = threading.Lock()
        self.last: dict[str, dict[str, Any]] = {}
        self.wave: deque[float] = deque(maxlen=WAVE_POINTS)
        self._wave_t = 0.0
        self.targets: list[dict[str, float | None]] = []
        self.vitals: dict[str, dict[str, Any]] = {r.id: {} for r in cfg.residents}
        self.alerts: dict[str, dict[str, Any]] = {}
        self.events: deque[dict[str, Any]] = deque(maxlen=20)
        self.said: dict[str, dict[str, str]] = {}  # sensor -> aspect -> its latest state in words
        self.claim: Callable[[], dict[str, Any]] | None = None  # a box not claimed yet: its code

    def reading(self, r: Reading) -> None:
        with self._lock:
            entry = {"t": r.t, "kind": r.kind}
            if isinstance(r, ChestDisplacement):
                if r.t - self._wave_t >= 0.09:  # at most 10 samples a second for the page
                    self.wave.append(round(r.value, 4))
                    self._wave_t = r.t
                entry["value"] = round(r.value, 3)
            elif isinstance(r, Targets):
                self.targets = [{"x": tg.x, "y": tg.y, "z": tg.z} for tg in r.targets]
                entry["targets"] = len(r.targets)
            else:
                entry |= {k: v for k, v in r.to_json().items() if k not in ("t", "record", "name", "sensor")}
            self.last[r.sensor] = entry
            said = _said(r)
            if said is not None:  # what the installer checks: the door, the alarm, the battery, presence
                self.said.setdefault(r.sensor, {})[said[0]] = said[1]

    def emit(self, item: Output) -> None:
        with self._lock:
            if isinstance(item, Observation) and item.name in ("heart_rate_bpm", "breathing_rate_bpm"):
                v = self.vitals.setdefault(item.resident, {})
                v[item.name] = item.value
                v["quality"], v["reason"], v["t"] = item.quality, item.reason, item.t  # each figure has its age
            elif isinstance(item, Event):
                self.events.appendleft({"t": item.t, "name": str(item.name), "resident": item.resident,
                                        "title": event_name(str(item.name), "zh-hans"),
                                        "title_en": event_name(str(item.name), "en"),
                                        "room": self.rooms.get(item.room, item.room)})
                if item.name in (EventName.BED_ENTRY, EventName.BED_RETURN, EventName.BED_EXIT):
                    v = self.vitals.setdefault(item.resident, {})
                    v["in_bed"] = item.name != EventName.BED_EXIT
                    v["out_of_bed_since"] = item.t if item.name == EventName.BED_EXIT else None
            elif isinstance(item, Alert):
                if item.state == AlertState.RESOLVED:
                    self.alerts.pop(item.id, None)
                else:
                    self.alerts[item.id] = {"id": item.id, "kind": str(item.kind),
                                            "title": alert_name(item.kind, "zh-hans"),
                                            "title_en": alert_name(item.kind, "en"), "severity": str(item.severity),
                                            "state": str(item.state), "resident": item.resident,
                                            "room": self.rooms.get(item.room, item.room),
                                            "raised_at": item.raised_at}

    def close(self) -> None:
        pass

    def snapshot(self) -> dict[str, Any]:
        stats = self.sensor_stats()
        metrics = self.metrics()
        with self._lock:
            sensors = [{"id": s.id, "protocol": s.protocol, "role": s.role, "room": s.room,
                        "last": self.last.get(s.id), "said": " · ".join(self.said.get(s.id, {}).values()),
                        **_health_row(stats.get(s.id))} for s in self.cfg.sensors]
            zones = [{"sensor": s.id, **s.placement.bed_zone.model_dump()} for s in self.cfg.sensors
                     if s.placement.bed_zone is not None]
            link = ("not configured" if self.cfg.uplink is None or not self.cfg.uplink.enabled
                    else "up" if metrics.get("uplink_up") else "down")
            return {"now": self.clock(), "gateway": f"{self.cfg.gateway.site}/{self.cfg.gateway.id}",
                    "community_link": link, "wave_t": self._wave_t, "stale_after_s": STALE_AFTER_S,
                    "sensors": sensors, "vitals": self.vitals, "wave": list(self.wave), "targets": self.targets,
                    "bed_zones": zones, "alerts": list(self.alerts.values()), "events": list(self.events),
                    "metrics": metrics, "claim": self.claim() if self.claim is not None else None}


class StatusPage:
    def __init__(self, model: StatusModel, bind: str = "127.0.0.1", port: int = 8080) -> None:
        html = page().encode()
        status = model

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path in ("/", "/index.html"):
                    self._send(200, "text/html; charset=utf-8", html)
                elif self.path == "/api/status":
                    self._send(200, "application/json", json.dumps(status.snapshot(), default=str).encode())
                else:
                    self._send(404, "text/plain", b"not found")

            def _send(self, code: int, ctype: str, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((bind, port), Handler)
        self.port = int(self.server.server_address[1])
        self.url = f"http://{bind}:{self.port}/"

    def run(self) -> None:
        log.info("status page on %s", self.url)
        self.server.serve_forever(poll_interval=0.5)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


STALE_AFTER_S = 60.0  # a figure older than this is shown greyed, with its time


def _said(r: Reading) -> tuple[str, str] | None:
    if isinstance(r, Contact):
        return "door", "关 closed" if r.closed else "开 open"
    if isinstance(r, Alarm) and not r.test:
        return r.alarm, f"{r.alarm} {'报警 ALARM' if r.active else '正常 quiet'}"
    if isinstance(r, Battery):
        if r.percent is not None:
            return "battery", f"电池 battery {round(r.percent)}%"
        if r.low is not None:
            return "battery", "电池低 battery low" if r.low else "电池正常 battery ok"
    if isinstance(r, Presence):
        return "presence", "有人 someone" if r.present else "无人 nobody"
    return None


def _health_row(h: SensorHealth | None) -> dict[str, Any]:
    if h is None:
        return {"state": "?", "frames": 0, "dropped": 0}
    return {"state": h.state, "frames": h.counters.get("frames", 0), "dropped": h.counters.get("dropped_bytes", 0),
            "bad_frames": h.counters.get("bad_checksum", 0) + h.counters.get("bad_length", 0),
            "malformed": h.counters.get("malformed", 0),
            "connected": h.connected, "last_error": h.last_error, "restarts": h.restarts}


def page() -> str:
    return resources.files("eldergate.gateway.local").joinpath("status_page.html").read_text(encoding="utf-8")
