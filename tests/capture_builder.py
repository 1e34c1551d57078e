"""Build captures from emulated device frames, for replay tests (times relative to t0)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eldergate.drivers.readings import Reading
from eldergate.drivers.seeed_tinyframe import encode_reading


class CaptureBuilder:
    def __init__(self, t0: float, timezone: str = "Asia/Shanghai") -> None:
        self.lines: list[tuple[float, dict[str, Any]]] = []
        self.meta = {"meta": {"version": 1, "t0": t0, "timezone": timezone}}

    def serial(self, t: float, sensor: str, *readings: Reading) -> None:
        data = b"".join(encode_reading(r) for r in readings)
        self.lines.append((t, {"t": round(t, 4), "sensor": sensor, "hex": data.hex()}))

    def raw(self, t: float, sensor: str, data: bytes) -> None:
        self.lines.append((t, {"t": round(t, 4), "sensor": sensor, "hex": data.hex()}))

    def mqtt(self, t: float, sensor: str, topic: str, payload: Any) -> None:
        self.lines.append((t, {"t": round(t, 4), "sensor": sensor, "topic": topic, "payload": payload}))

    def write(self, path: Path) -> Path:
        self.lines.sort(key=lambda x: x[0])
        with path.open("w", encoding="utf-8") as fh:
            fh.write(json.dumps(self.meta) + "\n")
            for _, obj in self.lines:
                fh.write(json.dumps(obj) + "\n")
        return path
