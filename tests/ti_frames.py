"""Scene frames as the bytes a TI people-tracking radar sends, read back by the real driver.

Each frame becomes one TI frame (``ti_mmwave.tracking_frame``): TLV 1010 when someone is
tracked and, like the firmware, no TLV at all when nobody is. A lost frame (a Scene's
``miss``) is simply not sent.
"""

from __future__ import annotations

import dataclasses

from eldergate.drivers import ti_mmwave
from eldergate.drivers.readings import Reading, Targets


def through_ti_driver(frames: list[Targets], sensor: str = "room_radar", heights: bool = False) -> list[Reading]:
    """``heights``: also TLV 1012 (each target's top of body)."""
    parser = ti_mmwave.TiMmwaveParser()
    out: list[Reading] = []
    for n, f in enumerate(frames):
        for r in parser.feed(ti_mmwave.tracking_frame(f.targets, n, heights)):
            out.append(dataclasses.replace(r, t=f.t, sensor=sensor))
    return out
