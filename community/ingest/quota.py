"""Per-gateway quotas, checked as a message arrives and before it is queued: a gateway that floods
costs its own messages, never another home's fall.

Token buckets (messages per second with a burst, and bytes per second with a burst) per gateway,
one for its alerts (and ``acked``) and one for its telemetry. A refused alert is not lost: no
receipt goes back, so the box sends it again later. The table of buckets is bounded too: a flood of
invented gateway ids evicts the oldest idle buckets, not the memory.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from eldergate.community.config import Ingest

ALERT_LEAVES = frozenset({"alerts", "acked"})  # alerts' own lane: small, urgent, resent until receipted
MAX_GATEWAYS = 200_000  # buckets kept; about 200 bytes each


@dataclass
class _Bucket:
    tokens: float
    at: float

    def take(self, rate: float, burst: float, cost: float, now: float) -> bool:
        self.tokens = min(burst, self.tokens + (now - self.at) * rate)
        self.at = now
        if self.tokens < cost:
            return False
        self.tokens -= cost
        return True


class Quotas:
    def __init__(self, limits: Ingest, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits, self.clock = limits, clock
        self._buckets: OrderedDict[tuple[str, str], tuple[_Bucket, _Bucket, _Bucket]] = OrderedDict()

    def allow(self, site: str, gateway: str, leaf: str, size: int) -> str | None:
        """None if the message may go on; otherwise why not ("alerts", "telemetry" or "bytes")."""
        now, q = self.clock(), self.limits
        key = (site, gateway)
        buckets = self._buckets.get(key)
        if buckets is None:
            buckets = (_Bucket(q.alerts_burst, now), _Bucket(q.telemetry_burst, now), _Bucket(q.bytes_burst, now))
            self._buckets[key] = buckets
            if len(self._buckets) > MAX_GATEWAYS:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        alerts, telemetry, volume = buckets
        if not volume.take(q.bytes_per_s, q.bytes_burst, size, now):
            return "bytes"
        if leaf in ALERT_LEAVES:
            return None if alerts.take(q.alerts_per_s, q.alerts_burst, 1, now) else "alerts"
        return None if telemetry.take(q.telemetry_per_s, q.telemetry_burst, 1, now) else "telemetry"
