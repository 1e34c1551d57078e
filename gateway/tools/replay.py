"""Run a capture through the real parsers and pipeline, as fast as the CPU allows.

Time in a replay is the capture's: between two lines the pipeline's timers are ticked on the
capture's clock at the live gateway's cadence (TICK_S), so a quiet stretch (a radar that
says nothing in an empty room) confirms exits and raises alerts at the moments live would.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from eldergate.config.schema import Config
from eldergate.gateway.core.home import Home
from eldergate.gateway.core.output import Output
from eldergate.gateway.links.capture import CaptureError, read_capture
from eldergate.gateway.links.decode import decoders_for

log = logging.getLogger(__name__)

TICK_S = 0.5  # the live gateway's core loop ticks its timers this often (runtime.Gateway.tick_s)


def replay(cfg: Config, capture: Path, emit: Callable[[Output], None], readings: bool = False,
           speed: float | None = None, final_summary: bool = True, only_named: bool = False) -> Home:
    """Feed every capture line to its sensor's parser, every reading to the pipeline.

    ``speed`` None: as fast as possible; N: N times real time. Lines for a sensor that
    the configuration does not name raise CaptureError, unless ``only_named`` (the sensors
    were picked on the command line): then they are skipped, and said once at the end.
    """
    skipped: dict[str, int] = {}
    seen: set[str] = set()
    _meta, items = read_capture(capture)
    decoders = decoders_for(cfg)
    home: Home | None = None
    wall0 = time.monotonic()
    t_first: float | None = None
    end: float | None = None
    for item in items:
        if item.end:
            end = item.t
            continue
        dec = decoders.get(item.sensor)
        if dec is None:
            if only_named:
                skipped[item.sensor] = skipped.get(item.sensor, 0) + 1
                continue
            raise CaptureError(f"capture names sensor {item.sensor!r}, which is not configured")
        seen.add(item.sensor)
        if home is None:
            home, t_first = Home(cfg, start=item.t), item.t
        for out in tick_until(home, item.t):
            emit(out)
        if speed is not None and t_first is not None:
            delay = (item.t - t_first) / speed - (time.monotonic() - wall0)
            if delay > 0:
                time.sleep(delay)
        if item.data is not None:
            got = dec.bytes_in(item.t, item.data)
        else:
            assert item.topic is not None and item.payload is not None
            got = dec.message_in(item.t, item.topic, item.payload)
        for r in got:
            if readings:
                emit(r)
            for out in home.process(r):
                emit(out)
    if home is not None and end is not None:  # the quiet time up to when recording stopped
        for out in tick_until(home, end):
            emit(out)
        for out in home.tick(end):
            emit(out)
    if home is not None and home.last_t is not None:
        for dec in decoders.values():  # a frame still waiting for bytes that will not come
            for r in dec.flush(home.last_t):
                if readings:
                    emit(r)
                for out in home.process(r):
                    emit(out)
    if skipped:
        log.warning("replay: skipped %d capture line(s) of sensors not named with --sensor: %s",
                    sum(skipped.values()), ", ".join(sorted(skipped)))
        for sid in sorted({sensor.id for sensor in cfg.sensors} - seen):
            log.warning("replay: sensor %s named with --sensor has no line in this capture", sid)
    if home is None:
        home = Home(cfg, start=0.0)
    elif final_summary and home.last_t is not None:
        for out in home.tick(home.last_t):
            emit(out)
        for s in home.summary_now(home.last_t):
            emit(s)
    return home


def tick_until(home: Home, t: float) -> list[Output]:
    """The timer ticks live would have made from the last one up to (not including) ``t``: what
    drives a home from recorded readings as the live loop does (replay, the tests, the benches)."""
    out: list[Output] = []
    last = home.last_tick
    if last is None:
        return out
    k = 1
    while last + k * TICK_S < t:
        out += home.tick(last + k * TICK_S)
        k += 1
    return out
