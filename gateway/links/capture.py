"""Captures: JSON lines, one per thing a sensor sent, for record and replay.

    {"meta": {"version": 1, "t0": 1763760000.0, "timezone": "Asia/Shanghai"}}   (optional, first)
    {"t": 12.34, "sensor": "bed_radar", "hex": "0201..."}                         serial bytes
    {"t": 12.50, "sensor": "front_door", "topic": "zigbee2mqtt/front_door", "payload": {...}}
    {"t": 3600.0, "end": true}                                                    (optional, last)

``t`` is seconds since ``meta.t0`` (0 when there is no meta line, i.e. Unix time). The end
line says when recording stopped: a replay runs the timers on to it, as the live gateway
did through the quiet time after the last sensor said anything.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from eldergate.drivers.errors import InputError


class CaptureError(InputError, ValueError):
    """A capture line cannot be used; the message names the line."""


@dataclass(frozen=True, slots=True)
class CaptureMeta:
    t0: float = 0.0
    timezone: str | None = None


@dataclass(frozen=True, slots=True)
class CaptureItem:
    t: float  # absolute: meta.t0 + line t
    sensor: str
    data: bytes | None = None  # serial bytes
    topic: str | None = None
    payload: bytes | None = None  # MQTT payload as it came over the wire
    end: bool = False  # the recording stopped here (no sensor)


def _parse_line(line: str, lineno: int, meta: CaptureMeta) -> CaptureItem:
    try:
        obj = json.loads(line)
        t = float(obj["t"])
        if obj.get("end") is True:
            return CaptureItem(meta.t0 + t, "", end=True)
        sensor = str(obj["sensor"])
        if "hex" in obj:
            return CaptureItem(meta.t0 + t, sensor, data=bytes.fromhex(obj["hex"]))
        payload = obj["payload"]
        raw = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        return CaptureItem(meta.t0 + t, sensor, topic=str(obj["topic"]), payload=raw)
    except (ValueError, KeyError, TypeError) as err:
        raise CaptureError(f"line {lineno}: {type(err).__name__}: {err}") from None


def read_capture(path: Path) -> tuple[CaptureMeta, Iterator[CaptureItem]]:
    try:
        fh = path.open(encoding="utf-8")
    except OSError as err:
        raise CaptureError(f"{path}: {err.strerror or err}") from None
    first = fh.readline()
    meta = CaptureMeta()
    pending: str | None = first
    if first.strip().startswith('{"meta"'):
        m = json.loads(first)["meta"]
        meta = CaptureMeta(float(m.get("t0", 0.0)), m.get("timezone"))
        pending = None

    def items() -> Iterator[CaptureItem]:
        with fh:
            lineno = 1
            if pending is not None and pending.strip():
                yield _parse_line(pending, lineno, meta)
            for lineno, line in enumerate(fh, start=2):
                if line.strip():
                    yield _parse_line(line, lineno, meta)

    return meta, items()


class CaptureWriter:
    """Appends capture lines; times are written relative to ``t0``."""

    def __init__(self, fh: IO[str], t0: float, timezone: str | None = None, **about: Any) -> None:
        """``about``: more of the meta line (a diagnostic capture says what it withheld)."""
        self.fh, self.t0 = fh, t0
        self._write({"meta": {"version": 1, "t0": t0, "timezone": timezone, **about}})

    def _write(self, obj: dict[str, Any]) -> None:
        self.fh.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n")

    def serial(self, t: float, sensor: str, data: bytes) -> None:
        self._write({"t": round(t - self.t0, 4), "sensor": sensor, "hex": data.hex()})

    def message(self, t: float, sensor: str, topic: str, payload: bytes) -> None:
        try:
            body: Any = json.loads(payload)
        except ValueError:
            body = payload.decode("utf-8", "replace")
        self._write({"t": round(t - self.t0, 4), "sensor": sensor, "topic": topic, "payload": body})

    def end(self, t: float) -> None:
        """Recording stopped at ``t``: replay runs the timers on to here."""
        self._write({"t": round(t - self.t0, 4), "end": True})

    def flush(self) -> None:
        self.fh.flush()
