"""Scene frames as the bytes a TI people-tracking radar sends, read back by the real driver.

Each frame becomes one TI frame: TLV 1010 (the target list) when someone is tracked, and,
like the firmware (the ``numTargets > 0`` guard in the Radar Toolbox's mss_main.c), no TLV at
all when nobody is. A lost frame (a Scene's ``miss``) is simply not sent.
"""

from __future__ import annotations

import dataclasses

from eldergate.drivers import ti_mmwave
from eldergate.drivers.readings import Reading, Targets


def through_ti_driver(frames: list[Targets], sensor: str = "room_radar", heights: bool = False) -> list[Reading]:
    """``heights``: also TLV 1012, each target's top of body (about 1.65 × its centroid)."""
    parser = ti_mmwave.TiMmwaveParser()
    out: list[Reading] = []
    for n, f in enumerate(frames):
        tlvs = [(ti_mmwave.TLV_TARGETS, ti_mmwave.targets_payload(f.targets))] if f.targets else []
        if heights and f.targets:
            tops = [(tg.id, min(1.8, 1.65 * (tg.z or 0.0)), 0.0) for tg in f.targets]
            tlvs.append((ti_mmwave.TLV_TARGET_HEIGHT, ti_mmwave.height_payload(tops)))
        for r in parser.feed(ti_mmwave.encode_frame(tlvs, frame_number=n)):
            out.append(dataclasses.replace(r, t=f.t, sensor=sensor))
    for r in parser.flush():
        out.append(dataclasses.replace(r, t=frames[-1].t, sensor=sensor))
    return out
