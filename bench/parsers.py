"""Parser throughput per protocol: MB/s, frames/s, and CPU per hour of a 20 Hz radar stream.

    .venv/bin/python bench/parsers.py [--seconds 2] [--json OUT]

Streams are built by each protocol's own encoder (so every frame is valid), fed in 64-byte
chunks like a serial read returns them. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path

from eldergate.drivers import ld2410, seeed_5359, seeed_tinyframe, ti_mmwave, winsen
from eldergate.drivers.base import StreamParser
from eldergate.drivers.readings import ChestDisplacement, DeviceVitals, Distance, Presence, Target, Targets


def _mr60_frame() -> bytes:  # one radar tick: phase + presence + distance + targets
    return b"".join(seeed_tinyframe.encode_reading(r) for r in (
        ChestDisplacement(value=1.0, unit="rad", breath=0.5, heart=0.1), Presence(present=True),
        Distance(distance_m=0.6), Targets(targets=(Target(id=1, x=0.2, y=1.0),))))


def _5359_frame() -> bytes:
    return b"".join(seeed_5359.encode_reading(r) for r in (
        Presence(present=True), DeviceVitals(heart_rate_bpm=70), Distance(distance_m=1.07)))


def _ld2410_frame() -> bytes:
    return ld2410.encode_report(ld2410.LD2410Report(
        target_state=3, moving_distance_m=1.2, moving_energy=40, still_distance_m=1.1, still_energy=60,
        detection_distance_m=1.2, moving_gates=tuple(range(9)), still_gates=tuple(range(9)), light=80, out_pin=1))


def _ti_frame() -> bytes:
    vs = ti_mmwave.TiVitalSigns(value=1.0, unit="mm", breath=0.1, heart=0.01, range_bin=15)
    targets = (Target(id=1, x=0.3, y=2.0, z=1.0, vx=0.1, vy=0.0, vz=0.0),)
    return ti_mmwave.encode_frame([(6, ti_mmwave.vital_signs_payload(vs)), (1010, ti_mmwave.targets_payload(targets)),
                                   (1012, ti_mmwave.height_payload([(1, 1.6, 0.1)])), (1021, struct.pack("<I", 1))])


PROTOCOLS: dict[str, tuple[Callable[[], StreamParser], Callable[[], bytes]]] = {
    "mr60bha2": (seeed_tinyframe.TinyFrameParser, _mr60_frame),
    "mr60bha1": (seeed_5359.Seeed5359Parser, _5359_frame),
    "ld2410": (ld2410.LD2410Parser, _ld2410_frame),
    "ti-mmwave": (ti_mmwave.TiMmwaveParser, _ti_frame),
    "winsen-gas": (winsen.WinsenParser, lambda: winsen.encode_upload(winsen.GAS_CO, 123)),
}


def measure(make: Callable[[], StreamParser], tick: bytes, seconds: float) -> dict[str, float]:
    stream = tick * max(1, 200_000 // len(tick))
    chunks = [stream[i : i + 64] for i in range(0, len(stream), 64)]
    parser = make()
    frames = 0
    n_bytes = 0
    t0 = time.process_time()
    while time.process_time() - t0 < seconds:
        for c in chunks:
            frames += len(parser.feed(c))
        n_bytes += len(stream)
    cpu = time.process_time() - t0
    ticks_per_s = n_bytes / len(tick) / cpu
    return {
        "mb_per_s": n_bytes / cpu / 1e6,
        "readings_per_s": frames / cpu,
        "cpu_s_per_hour_20hz": 20 * 3600 / ticks_per_s,  # a radar sending this tick 20 times a second
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    results = {name: measure(make, tick(), args.seconds) for name, (make, tick) in PROTOCOLS.items()}
    print(f"{'protocol':<12} {'MB/s':>8} {'readings/s':>12} {'CPU s per hour at 20 Hz':>24}")
    for name, r in results.items():
        print(f"{name:<12} {r['mb_per_s']:>8.2f} {r['readings_per_s']:>12,.0f} {r['cpu_s_per_hour_20hz']:>24.2f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
