"""``eldergate demo``: a simulated home through the real drivers and pipeline.

Device emulators write byte-exact MR60BHA2 / MR60FDA2 frames to pseudo-terminals that the
gateway's serial transports read; Zigbee2MQTT messages for the front door and the gas
detector go through an in-process bus into the real Zigbee2MQTT parser (no broker is
needed). A scripted evening, night and morning plays on a compressed clock: bedtime, a
bed exit at night with the front door opened, the return, the morning, a gas leak, and a
fall beside the bed. The view prints what each sensor says, the resident's state and the
alerts as they fire, then a summary.
"""

from __future__ import annotations

import bisect
import json
import math
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo

from pydantic import SecretStr

from eldergate.config.loader import load_config
from eldergate.config.schema import Config, SerialLink, Uplink
from eldergate.drivers.readings import (
    ChestDisplacement,
    DeviceFall,
    DeviceVitals,
    Distance,
    Presence,
    Target,
    TargetHeight,
    Targets,
)
from eldergate.drivers.seeed_tinyframe import encode_reading
from eldergate.gateway.core.alerts import Alert, AlertState
from eldergate.gateway.core.clock import SteppedClock
from eldergate.gateway.core.output import Output
from eldergate.gateway.delivery.outbox import Outbox
from eldergate.gateway.local.console_view import ConsoleView
from eldergate.gateway.runtime import Gateway
from eldergate.gateway.tools.emulation import FrameEmulator, VirtualSerialPort
from eldergate.signal.model import Event
from eldergate.signal.summary import DailySummary
from eldergate.signal.synthetic import ChestStream

DEMO_CONFIG = Path(str(resources.files("eldergate.config").joinpath("demo.toml")))
DAY = "2026-11-21"
TZ = ZoneInfo("Asia/Shanghai")


def at(hms: str, day_offset: int = 0) -> float:
    base = datetime.fromisoformat(f"{DAY}T{hms}").replace(tzinfo=TZ).timestamp()
    return base + 86400 * day_offset


@dataclass(frozen=True)
class Pose:
    """Where the resident is at a keyframe. Positions are in the room radar's frame."""

    t: float
    room: str  # bedroom | hall | kitchen | outside
    x: float = 0.0
    y: float = 1.0
    z: float = 1.0  # body height above the floor (centroid), m
    in_bed: bool = False
    moving: bool = False
    heart: float = 72.0
    breath: float = 15.0
    fallen: bool = False


# The script. Between keyframes, x/y/z move linearly; everything else holds.
POSES = [
    Pose(at("21:30:00"), "bedroom", 0.8, 1.0, 1.0, moving=True),
    Pose(at("21:59:00"), "bedroom", 0.2, 1.4, 1.0, moving=True),
    Pose(at("22:00:00"), "bedroom", -1.2, 1.2, 1.0, moving=True),  # walks to the bed
    Pose(at("22:00:04"), "bedroom", -1.2, 1.2, 0.45, in_bed=True, heart=70, breath=16),  # lies down (no fall)
    Pose(at("22:01:00"), "bedroom", -1.2, 1.2, 0.45, in_bed=True, heart=64, breath=14),
    Pose(at("23:30:00"), "bedroom", -1.2, 1.2, 0.45, in_bed=True, heart=58, breath=13),
    Pose(at("02:00:00", 1), "bedroom", -1.2, 1.2, 0.45, in_bed=True, heart=58, breath=13),
    Pose(at("02:00:05", 1), "bedroom", 0.0, 1.5, 1.0, moving=True),  # gets up at night
    Pose(at("02:02:00", 1), "hall", moving=True),
    Pose(at("02:03:30", 1), "outside", moving=True),  # out of the front door
    Pose(at("02:41:00", 1), "hall", moving=True),  # back in
    Pose(at("02:42:00", 1), "bedroom", 0.0, 1.5, 1.0, moving=True),
    Pose(at("02:42:10", 1), "bedroom", -1.2, 1.2, 0.45, in_bed=True, heart=66, breath=15),
    Pose(at("06:50:00", 1), "bedroom", -1.2, 1.2, 0.45, in_bed=True, heart=62, breath=14),
    Pose(at("06:50:08", 1), "bedroom", 0.5, 1.0, 1.0, moving=True),  # morning
    Pose(at("07:05:00", 1), "kitchen", moving=True),
    Pose(at("09:30:00", 1), "bedroom", 0.8, 0.6, 1.0, moving=True),
    Pose(at("10:01:59", 1), "bedroom", 0.2, 0.9, 1.0, moving=True),
    Pose(at("10:02:00", 1), "bedroom", 0.2, 0.9, 1.0, moving=True),  # falls beside the bed
    Pose(at("10:02:00.6", 1), "bedroom", 0.3, 1.0, 0.2, fallen=True),
    Pose(at("10:20:00", 1), "bedroom", 0.3, 1.0, 0.2, fallen=True),
]
# (time, topic, payload): what Zigbee2MQTT would publish. Cached keys repeat on purpose.
MESSAGES = [
    (at("21:30:05"), "zigbee2mqtt/bridge/state", {"state": "online"}),
    (at("21:30:10"), "zigbee2mqtt/hall/front_door", {"contact": True, "battery": 91, "linkquality": 72}),
    (at("21:30:20"), "zigbee2mqtt/kitchen_gas", {"gas": False, "battery_low": False, "tamper": False}),
    (at("02:03:10", 1), "zigbee2mqtt/hall/front_door", {"contact": False, "battery": 91, "linkquality": 70}),
    (at("02:03:40", 1), "zigbee2mqtt/hall/front_door", {"contact": True, "battery": 91, "linkquality": 71}),
    (at("02:40:50", 1), "zigbee2mqtt/hall/front_door", {"contact": False, "battery": 91, "linkquality": 69}),
    (at("02:41:05", 1), "zigbee2mqtt/hall/front_door", {"contact": True, "battery": 91, "linkquality": 70}),
    (at("09:01:00", 1), "zigbee2mqtt/kitchen_gas", {"gas": True, "battery_low": False, "tamper": False}),
    # a battery report one minute later still carries the cached gas: true — not a new leak
    (at("09:02:00", 1), "zigbee2mqtt/kitchen_gas", {"gas": True, "battery_low": False, "tamper": False,
                                                     "battery": 87}),
    (at("09:06:00", 1), "zigbee2mqtt/kitchen_gas", {"gas": False, "battery_low": False, "tamper": False}),
]
# (from time, speed): slow where the signals matter, fast where nothing happens
SPEEDS = [
    (at("21:30:00"), 600.0),
    (at("21:59:50"), 25.0),  # bedtime
    (at("22:00:50"), 12.0),  # live vitals
    (at("22:02:30"), 4000.0),  # sleep
    (at("01:59:40", 1), 60.0),  # bed exit, door
    (at("02:04:00", 1), 300.0),
    (at("02:44:00", 1), 5000.0),
    (at("06:49:50", 1), 400.0),
    (at("07:40:00", 1), 3000.0),
    (at("09:00:30", 1), 60.0),  # gas leak
    (at("09:07:00", 1), 2000.0),
    (at("10:01:50", 1), 8.0),  # fall
    (at("10:03:05", 1), 400.0),
]
END = at("10:06:00", 1)


def pose_at(t: float) -> Pose:
    i = bisect.bisect_right([p.t for p in POSES], t) - 1
    if i < 0:
        return POSES[0]
    a = POSES[i]
    if i + 1 >= len(POSES):
        return a
    b = POSES[i + 1]
    f = (t - a.t) / (b.t - a.t) if b.t > a.t else 0.0

    def lerp(u: float, v: float) -> float:
        return u + (v - u) * f

    return replace(a, x=lerp(a.x, b.x), y=lerp(a.y, b.y), z=lerp(a.z, b.z), t=t)


class HomeSimulator:
    """Plays the script into the emulated devices at the clock's pace."""

    def __init__(self, clock: SteppedClock, bed: FrameEmulator, room: FrameEmulator,
                 publish: Callable[[str, bytes], None], speedup: float, stop: threading.Event,
                 caught_up: Callable[[], bool] = lambda: True) -> None:
        self.clock, self.bed, self.room, self.publish = clock, bed, room, publish
        self.speedup, self.stop = speedup, stop
        self.caught_up = caught_up  # the gateway has read and processed everything sent so far
        self.speed = SPEEDS[0][1] * speedup  # simulated seconds per real second
        self.chest = ChestStream(seed=7)
        self._phase_t: float | None = None
        self._last_state_t = -math.inf
        self._msg_i = 0
        self._speed_i = 0
        self.done = threading.Event()

    def run(self) -> None:
        last = time.monotonic()
        while not self.stop.is_set():
            t = self.clock.now()
            if t >= END:
                break
            self._update_speed(t)
            p = pose_at(t)
            self._bed_frames(t, p)
            if t - self._last_state_t >= min(0.2, self.speed * 0.02):
                self._last_state_t = t
                self._room_frames(p)
                self._bed_state(p)
            while self._msg_i < len(MESSAGES) and MESSAGES[self._msg_i][0] <= t:
                _, topic, payload = MESSAGES[self._msg_i]
                self.publish(topic, json.dumps(payload).encode())
                self._msg_i += 1
            self.stop.wait(0.02)
            end = time.monotonic() + 1.0  # lockstep: time moves on once the gateway has caught up
            while not self.caught_up() and time.monotonic() < end and not self.stop.is_set():
                self.stop.wait(0.002)
            now = time.monotonic()
            self.clock.advance(min(now - last, 0.02) * self.speed)
            last = now
        self.done.set()

    def _update_speed(self, t: float) -> None:
        while self._speed_i + 1 < len(SPEEDS) and SPEEDS[self._speed_i + 1][0] <= t:
            self._speed_i += 1
            self.speed = SPEEDS[self._speed_i][1] * self.speedup

    def _bed_frames(self, t: float, p: Pose) -> None:
        """The chest waveform at 10 Hz, only while time runs slowly enough to matter."""
        if not p.in_bed or self.speed > 50 * self.speedup:
            self._phase_t = None
            return
        if self._phase_t is None:
            self._phase_t = t
        frames = []
        while self._phase_t + 0.1 <= t:
            self._phase_t += 0.1
            x = self.chest.sample(self._phase_t, p.heart, p.breath, p.moving)
            frames.append(ChestDisplacement(value=x * 2.5, unit="rad"))  # ~2.5 rad per mm at 60 GHz
        if frames:
            self.bed.send(*frames)

    def _bed_state(self, p: Pose) -> None:
        if p.in_bed:
            self.bed.send(Presence(present=True), Distance(distance_m=0.62),
                          DeviceVitals(heart_rate_bpm=round(p.heart)), DeviceVitals(breathing_rate_bpm=p.breath))
        else:
            self.bed.send(Presence(present=False), Distance(distance_m=None))

    def _room_frames(self, p: Pose) -> None:
        if p.room != "bedroom":
            self.room.send(Presence(present=False), Targets(targets=()))
            return
        speed = 0.4 if p.moving else 0.0
        self.room.send(Presence(present=True), Targets(targets=(Target(id=1, x=p.x, y=p.y, vy=speed),)),
                       TargetHeight(height_m=p.z))
        if p.fallen:
            self.room.send(DeviceFall(fallen=True))


@dataclass
class DemoResult:
    alerts: list[Alert]
    events: Counter[str]
    summaries: list[DailySummary]
    frames: dict[str, dict[str, int]]
    pushes: list[tuple[str, str]]


def demo_config(base: Config, workdir: Path, push_port: int) -> Config:
    sensors = []
    for s in base.sensors:
        if s.serial is not None:
            s = s.model_copy(update={"serial": SerialLink(port=str(workdir / f"{s.id}.tty"))})
        sensors.append(s)
    residents = []
    for r in base.residents:  # pushes go to the demo's own endpoint on loopback
        contacts = [c.model_copy(update={"notify": SecretStr(f"json://127.0.0.1:{push_port}/{c.role}")})
                    for c in r.contacts]
        residents.append(r.model_copy(update={"contacts": contacts}))
    gw = base.gateway.model_copy(update={"state_dir": workdir})
    return base.model_copy(update={"sensors": sensors, "gateway": gw, "residents": residents})


class PushPreview:
    """A loopback HTTP endpoint standing in for the phones: Apprise's json:// posts arrive here."""

    def __init__(self, show: Callable[[str, str], None]) -> None:
        show_push = show

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                show_push(self.path.strip("/"), str(body.get("title", "")))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.received = 0
        threading.Thread(target=self.server.serve_forever, name="eg-demo-push", daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def run_demo(out: IO[str] = sys.stdout, speedup: float = 1.0, config: Path = DEMO_CONFIG,
             color: bool = False, status_port: int | None = 8080,
             on_started: Callable[[Gateway], None] | None = None, uplink_url: str | None = None,
             server_url: str | None = None) -> DemoResult:
    """``server_url``: the box starts unclaimed and collects its credentials there once claimed."""
    with tempfile.TemporaryDirectory(prefix="eldergate-demo-") as tmp:
        workdir = Path(tmp)
        pushes: list[tuple[str, str]] = []
        view_ref: list[ConsoleView] = []

        def show_push(who: str, title: str) -> None:
            pushes.append((who, title))
            if view_ref:
                view_ref[0].line(clock.now(), f"📱 push to the {who.replace('_', ' ')}: {title}")

        preview = PushPreview(show_push)
        cfg = demo_config(load_config(config), workdir, preview.port)
        if uplink_url is not None:  # the demo's community server is listening on this broker
            claim = {"server_url": server_url, "credentials_file": workdir / "uplink.credentials"} if server_url else {}
            # the demo's home is its own first ring (docs/alert-lifecycle.md, "Who is paged"): the pushes
            # are shown here, while the community's ladder pages nobody the box has paged
            cfg = cfg.model_copy(update={
                "uplink": Uplink(broker_url=uplink_url, resend_after=2.0, heartbeat=5.0, **claim),
                "notifications": cfg.notifications.model_copy(update={"box_pages": "first_ring"})})
        if status_port is not None:  # the installer's page, on loopback, for the demo too
            cfg = cfg.model_copy(update={"status_page": cfg.status_page.model_copy(
                update={"enabled": True, "port": status_port})})
        ports = {s.id: VirtualSerialPort(Path(s.serial.port)) for s in cfg.sensors if s.serial is not None}
        clock = SteppedClock(start=POSES[0].t)
        view = ConsoleView(out, cfg.gateway.timezone, color=color, rooms=cfg.room_names())
        view_ref.append(view)
        events: Counter[str] = Counter()
        alerts: list[Alert] = []

        def tally(o: Output) -> None:
            if isinstance(o, Event):
                events[str(o.name)] += 1
            elif isinstance(o, Alert) and o.state == AlertState.RAISED:
                alerts.append(o)

        store = Outbox(workdir / "eldergate.db")
        gw = Gateway(cfg, [view], clock=clock, store=store, tick_s=0.05, mqtt=False)
        gw.on_output = tally
        _intro(out, cfg)
        gw.start()
        if gw.status_page is not None:
            out.write(f"status page: {gw.status_page.url} (open it in a browser while the demo runs)\n\n")
        if on_started is not None:
            on_started(gw)
        emulators = {sid: FrameEmulator(ports[sid], encode_reading) for sid in ("bed_radar", "room_radar")}

        def caught_up() -> bool:  # the gateway has read every byte sent, and processed every reading
            return all(ports[sid].unread() == 0 for sid in emulators) and gw.queue.empty()

        sim = HomeSimulator(clock, emulators["bed_radar"], emulators["room_radar"], gw.bus.publish, speedup,
                            gw.stop_event, caught_up)
        sim_thread = threading.Thread(target=sim.run, name="eg-demo-home", daemon=True)
        sim_thread.start()
        core = threading.Thread(target=gw.run, name="eg-core", daemon=True)
        core.start()
        sim.done.wait()
        if gw.uplink is not None:  # let the last alerts reach the community before the home stops
            end = time.monotonic() + 10
            while time.monotonic() < end and store.pending_alerts(limit=1):
                time.sleep(0.1)
        gw.stop()
        core.join(timeout=10)
        preview.close()
        for p in ports.values():
            p.close()
        summaries = gw.home.summaries + gw.home.summary_now(clock.now())
        frames = {sid: dec.stats.as_dict() for sid, dec in gw.decoders.items()}
        result = DemoResult(alerts, events, summaries, frames, pushes)
        _outro(out, view, result)
        return result


def _intro(out: IO[str], cfg: Config) -> None:
    out.write(
        "eldergate demo — a simulated home, time compressed (a night and a morning in about a minute)\n"
        f"  home {cfg.gateway.site}/{cfg.gateway.id}, resident r1, sensors: "
        + ", ".join(f"{s.id} ({s.protocol})" for s in cfg.sensors) + "\n"
        "  radars: emulated devices writing real MR60BHA2/MR60FDA2 frames to pseudo-terminals\n"
        "  Zigbee2MQTT door and gas detector: no broker needed — their JSON messages go through an\n"
        "  in-process bus into the same Zigbee2MQTT parser that reads a real broker\n"
        "  pushes to the grid worker and the daughter go through Apprise to a loopback endpoint shown here\n\n"
    )
    out.flush()


def _outro(out: IO[str], view: ConsoleView, r: DemoResult) -> None:
    out.write("\n== demo finished ==\nthe morning report (the night, as the relatives get it in words):\n")
    for s in r.summaries[:1]:
        view.summary(s)
    kinds = Counter(str(a.kind) for a in r.alerts)
    out.write("alerts raised: " + (", ".join(f"{k} ×{n}" for k, n in sorted(kinds.items())) or "none") + "\n")
    for sid, st in r.frames.items():
        out.write(f"  {sid:<12} frames {st['frames']:>6}, dropped bytes {st['dropped_bytes']}, "
                  f"bad checksums {st['bad_checksum']}, malformed {st['malformed']}\n")
    out.flush()
