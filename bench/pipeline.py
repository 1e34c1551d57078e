"""Pipeline cost for one home: simulated hours of a 20 Hz bed radar (MR60BHA2 frames with the
chest phase), a 10 Hz room radar (MR60FDA2 targets, height, presence) and the home's MQTT
sensors, decoded by the real parsers and run through the real pipeline as fast as possible.

    .venv/bin/python bench/pipeline.py [--hours 24] [--radars 1] [--json OUT]

The frames are built first (not timed); then the decode + pipeline CPU time is measured.
Prints CPU seconds per simulated hour, the real-time factor, the share of one core, and
the process's peak RSS beside the floor of merely importing the stack.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from eldergate.config.loader import load_config
from eldergate.config.schema import Config
from eldergate.drivers.readings import ChestDisplacement, Distance, Presence, Target, TargetHeight, Targets
from eldergate.drivers.seeed_tinyframe import encode_reading
from eldergate.gateway.core.home import Home
from eldergate.gateway.delivery.outbox import Outbox
from eldergate.gateway.links.decode import decoders_for
from eldergate.gateway.local.telemetry import Spool, TelemetrySink
from eldergate.signal.synthetic import ChestStream

ROOT = Path(__file__).resolve().parent.parent
T0 = 1_795_300_000.0  # a Saturday evening in 2026, Asia/Shanghai


def home_config(radars: int) -> Config:
    cfg = load_config(ROOT / "config" / "demo.toml")
    sensors = list(cfg.sensors)
    for k in range(1, radars):  # more bed radars: a second resident's bed, another room
        sensors.append(cfg.sensor("bed_radar").model_copy(update={"id": f"bed_radar_{k}"}))
        sensors.append(cfg.sensor("room_radar").model_copy(update={"id": f"room_radar_{k}"}))
    return cfg.model_copy(update={"sensors": sensors})


Item = tuple[float, str, bytes | None, tuple[str, bytes] | None]


def build_hour(hour: int, radars: int, chest: ChestStream, rng: np.random.Generator,
               chunk_s: float = 0.1) -> list[Item]:
    """One simulated hour as (t, sensor, serial bytes or None, (topic, payload) or None), one item per read."""
    items: list[Item] = []
    n = int(3600 / chunk_s)
    for i in range(hour * n, (hour + 1) * n):
        t = T0 + i * chunk_s
        night = (i * chunk_s / 3600) % 24 < 9  # the first 9 h of each day in bed
        bed = b""
        for k in range(2):  # 20 Hz: two samples per 0.1 s read
            ts = t + k * 0.05
            x = chest.sample(ts, 62.0, 14.0) if night else float(rng.normal(0, 0.002))
            bed += encode_reading(ChestDisplacement(value=x * 2.5, unit="rad"))
        if i % 10 == 0:  # presence and distance once a second
            bed += encode_reading(Presence(present=night)) + encode_reading(Distance(distance_m=0.6 if night else None))
        z = 0.45 if night else 1.0
        room = (encode_reading(Targets(targets=(Target(id=1, x=-1.2 if night else 0.5, y=1.2, vy=0.0 if night
                                                       else 0.35),)))
                + encode_reading(TargetHeight(height_m=z)) + encode_reading(Presence(present=True)))
        for r in range(radars):
            suffix = "" if r == 0 else f"_{r}"
            items.append((t, f"bed_radar{suffix}", bed, None))
            items.append((t + 0.01, f"room_radar{suffix}", room, None))
        if i % 36000 == 0:  # the Zigbee sensors check in hourly
            items.append((t, "front_door", None, ("zigbee2mqtt/hall/front_door", b'{"contact":true,"battery":90}')))
            items.append((t, "kitchen_gas", None, ("zigbee2mqtt/kitchen_gas", b'{"gas":false,"battery":88}')))
    return items


def write_bytes() -> int:
    """Bytes this process caused to be written to storage (Linux /proc/self/io)."""
    try:
        for ln in Path("/proc/self/io").read_text().splitlines():
            if ln.startswith("write_bytes:"):
                return int(ln.split()[1])
    except OSError:
        pass
    return 0


def run(hours: float, radars: int) -> dict[str, float]:
    cfg = home_config(radars)
    decoders = decoders_for(cfg)
    home = Home(cfg, start=T0)
    state = Path(tempfile.mkdtemp(prefix="eldergate-bench-"))
    store = Outbox(state / "eldergate.db")  # the real outbox and history, as the gateway writes them
    tcfg = cfg.model_copy(update={"telemetry": cfg.telemetry.model_copy(update={"enabled": True})})
    telemetry = TelemetrySink(tcfg, Spool(state / "telemetry.db", 1_000_000))  # points built, batched, spooled
    tele_cpu = 0.0
    w0 = write_bytes()
    rng, chest = np.random.default_rng(1), ChestStream(seed=3)
    outputs = readings = 0
    cpu = build_s = 0.0
    for hour in range(int(hours)):  # built an hour at a time (not timed), so memory stays bounded
        t_build = time.perf_counter()
        items = build_hour(hour, radars, chest, rng)
        build_s += time.perf_counter() - t_build
        c0 = time.process_time()
        for t, sensor, data, msg in items:
            dec = decoders[sensor]
            got = dec.bytes_in(t, data) if data is not None else dec.message_in(t, *msg)  # type: ignore[misc]
            for r in got:
                readings += 1
                outs = home.process(r)
                outputs += len(outs)
                for o in outs:
                    store.emit(o)
                if outs:
                    c1 = time.process_time()
                    for o in outs:
                        telemetry.emit(o)
                    tele_cpu += time.process_time() - c1
        cpu += time.process_time() - c0
    store.close()
    c1 = time.process_time()
    telemetry.close()
    tele_cpu += time.process_time() - c1
    points = telemetry.spool.size()
    os.sync()
    written = write_bytes() - w0
    shutil.rmtree(state, ignore_errors=True)
    sim_s = hours * 3600
    return {
        "hours": hours, "radars": radars, "readings": readings, "outputs": outputs, "cpu_s": cpu,
        "cpu_s_per_sim_hour": cpu / hours, "real_time_factor": sim_s / cpu, "core_share_pct": 100 * cpu / sim_s,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "build_s": build_s,
        "disk_bytes_per_sim_day": written * 24 / hours,
        "telemetry_cpu_s_per_sim_hour": tele_cpu / hours, "telemetry_points_per_sim_hour": points / hours,
    }


def import_floor_mb() -> float:
    # VmHWM, not ru_maxrss: Linux carries a parent's peak RSS across fork and exec into ru_maxrss
    code = ("import eldergate.gateway.runtime, eldergate.gateway.tools.cli, pathlib;"
            "print(next(int(x.split()[1]) for x in pathlib.Path('/proc/self/status').read_text().splitlines()"
            " if x.startswith('VmHWM')) / 1024)")
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--radars", type=int, default=1)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    r = run(args.hours, args.radars)
    r["import_floor_rss_mb"] = import_floor_mb()
    print(f"{args.hours:g} simulated hours, {args.radars} bed + {args.radars} room radar(s) and 2 Zigbee sensors: "
          f"{r['readings']:,} readings, {r['outputs']:,} outputs")
    print(f"  CPU {r['cpu_s']:.1f} s = {r['cpu_s_per_sim_hour']:.2f} s per simulated hour; real-time factor "
          f"{r['real_time_factor']:,.0f}; {r['core_share_pct']:.3f} % of one core (budget < 1 %)")
    print(f"  disk writes (outbox, history, telemetry spool; SQLite WAL): {r['disk_bytes_per_sim_day'] / 1e6:.1f} MB "
          "per simulated day")
    print(f"  telemetry path: {r['telemetry_cpu_s_per_sim_hour']:.3f} CPU s per simulated hour for "
          f"{r['telemetry_points_per_sim_hour']:.0f} points (part of the figure above)")
    print(f"  peak RSS {r['peak_rss_mb']:.0f} MB (one hour of frames held at a time); importing the stack alone: "
          f"{r['import_floor_rss_mb']:.0f} MB")
    if args.json:
        args.json.write_text(json.dumps(r, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
