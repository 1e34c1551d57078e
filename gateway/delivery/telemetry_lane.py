"""The telemetry lane: events, vitals and summaries waiting for the community server.

Bounded: past its cap (``lane_max``) the oldest rows go, counted (``lane_dropped``). Its writes
are batched with the history's (state_db.py ``flush``), and it never delays an alert: the uplink
drains alerts first.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from eldergate.gateway.delivery.state_db import StateDb


@dataclass(frozen=True, slots=True)
class LaneItem:
    seq: int
    leaf: str  # events | vitals | summary
    body: dict[str, Any]


class TelemetryLane(StateDb):
    def put_lane(self, leaf: str, body: dict[str, Any]) -> None:
        with self._lock:
            self._pending_lane.append((leaf, json.dumps(body, ensure_ascii=False), time.time()))
        self._maybe_flush()

    def lane_batch(self, limit: int = 100) -> list[LaneItem]:
        with self._lock:
            rows = self._read("SELECT seq, leaf, body FROM lane ORDER BY seq LIMIT ?", (limit,))
        return [LaneItem(seq, leaf, json.loads(body)) for seq, leaf, body in rows]

    def lane_done(self, seqs: list[int]) -> None:
        if seqs:
            with self._lock:
                self._write(lambda db: db.executemany("DELETE FROM lane WHERE seq = ?", [(s,) for s in seqs]))

    def lane_dropped(self) -> int:
        with self._lock:
            rows = self._read("SELECT value FROM counters WHERE name = 'lane_dropped'")
        return int(rows[0][0]) if rows else 0

    def lane_size(self) -> int:
        with self._lock:
            return int(self._read("SELECT count(*) FROM lane")[0][0])
