"""The ingest's in-process queue: bounded, in three lanes taken in order, so that a fall raised now
never waits behind a city's replay, and no alert waits behind vitals.

* ``fresh``: alert messages raised within the last FRESH_S (by their ``raised_at``), and the
  boxes' ``acked`` confirmations: a person is waiting on these.
* ``alerts``: the other alert messages (an outbox replaying what it kept through an outage).
* ``telemetry``: events, vitals, summaries, status.

On PostgreSQL two store threads take from them: one the alert lanes (ALERT_LANES), one telemetry,
each with its own database connection, so a fall is never queued behind a batch of vitals being
written; on SQLite one thread takes all three (``store_loops``). A batch
holds at most ``most`` items and is taken from the first lane that has any, the next lane only
filling what is left, so a fresh fall arriving during a replay waits for one commit at most.
Replayed alerts used to be taken 100 at a time for a shorter wait; at 10,000 homes that made more
commits and round trips than it saved: 200 drained the replay in 11-12.5 s instead of 13.7-16.7 s,
and the fresh falls' p99 was no worse (bench/community_load.py, docs/deploy-city.md).

Bounded on purpose: when the store falls behind, ``put`` blocks the broker's network thread of the
connection it came from (alerts and telemetry have a connection each), the broker stops sending on
that connection and holds the rest, as it is built to. Vitals (QoS 0: the box does not resend
them, and the next one is 10 s away) are shed instead of waited for, and counted.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Hashable
from typing import Generic, TypeVar

T = TypeVar("T")
LANES = ("fresh", "alerts", "telemetry")
ALERT_LANES = ("fresh", "alerts")  # stored by a thread of their own: a batch of vitals never delays an alert
FRESH_S = 60.0  # an alert raised within this long ago is someone's emergency now, not a replay
_NEVER = 2**62


def store_loops(vendor: str) -> list[tuple[str, tuple[str, ...]]]:
    """The store threads an ingest runs, by database: (name, the lanes it takes). PostgreSQL: the
    alert lanes have a thread of their own. SQLite takes one writer at a time, and its busy wait is
    not first come, first served: two threads there let the telemetry's commits starve a fall (a
    fresh fall's p99 during a 10,000-home replay went from 1.0 s to 2.1 s), so one thread takes
    every lane, alerts first."""
    if vendor == "sqlite":
        return [("eg-ingest-store", LANES)]
    return [("eg-ingest-alerts", ALERT_LANES), ("eg-ingest-store", ("telemetry",))]


ALERT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # the contract's Id (contract/messages.py)
ALERT_STATES = ("raised", "delivered", "acknowledged", "resolved")


def lane_of(leaf: str, payload: bytes | bytearray, now: float) -> str:
    """The lane a message from a gateway goes into (``now``: the server's unix time)."""
    return sort(leaf, "", "", payload, now)[0]


def sort(leaf: str, site: str, gateway: str, payload: bytes | bytearray, now: float) -> tuple[str, Hashable | None]:
    """The lane a message goes into, and for an alert message what makes a resend of it the same
    copy as far as the store is concerned: who sent it (its topic's site and gateway: one box's
    copies never stand for another's), the alert's id, state and whom its box paged. None when
    any of them is off the contract: each such message goes to the store and its dead letters."""
    if leaf == "acked":
        return "fresh", None
    if leaf != "alerts":
        return "telemetry", None
    try:
        doc = json.loads(payload)
        raised = float(doc.get("raised_at"))
        aid, state, paged = doc.get("id"), doc.get("state"), doc.get("paged") or []
        lane = "fresh" if now - raised <= FRESH_S else "alerts"
    except (ValueError, TypeError, AttributeError):
        return "alerts", None  # the store says what is wrong with it
    if not (isinstance(aid, str) and ALERT_ID.fullmatch(aid) and state in ALERT_STATES and isinstance(paged, list)
            and all(isinstance(p, str) for p in paged)):
        return lane, None
    return lane, (site, gateway, aid, state, tuple(sorted(paged)))


class Lanes(Generic[T]):
    def __init__(self, size: int, shed_above: float = 0.5) -> None:
        """``shed_above``: the share of ``size`` the telemetry lane may hold before vitals are shed."""
        self.size = size
        self.shed_at = max(1, int(size * shed_above))
        self._lanes: dict[str, deque[tuple[float, T, Hashable | None]]] = {name: deque() for name in LANES}
        self._waiting: set[Hashable] = set()  # keys of the alert copies queued and not yet taken
        self._cond = threading.Condition()
        self.shed: Counter[str] = Counter()  # what was dropped, by leaf
        self.last_shed = 0.0  # monotonic time of the last shed item
        # telemetry wakes a taker when the first arrives (one waiting for anything), and a lingering
        # one (``take``) once this many wait; a busy taker finds the rest when it comes back
        self._fill_to = _NEVER

    def put(self, item: T, lane: str, timeout: float | None = None, key: Hashable | None = None) -> bool:
        """Queue it; blocks while full (up to ``timeout``: False if still full). ``key``: the
        copy it is (``sort``), for ``waiting``."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self) < self.size, timeout):
                return False
            self._lanes[lane].append((time.monotonic(), item, key))
            if key is not None:
                self._waiting.add(key)
            self._added(lane)
            return True

    def _added(self, lane: str) -> None:
        """Wake the takers for an alert, for the first telemetry, and for a batch's worth: waking
        them for every vital (a thousand a second) cost the broker's network thread a fifth of its
        time, and the alerts' taker a wake-up each for nothing."""
        n = len(self._lanes[lane])
        if lane != "telemetry" or n == 1 or n >= self._fill_to:
            self._cond.notify_all()

    def waiting(self, key: Hashable | None) -> bool:
        """A copy with this key is queued and not yet taken: one more (a box resending while the
        server is behind, every 2, 4, 8 … s) would only be stored as a duplicate and receipted
        again. The caller acknowledges it to the broker at once instead: the queued copy is not
        acknowledged until its commit, so a server killed meanwhile still gets that one again."""
        if key is None:
            return False
        with self._cond:
            return key in self._waiting

    def offer(self, item: T, leaf: str) -> bool:
        """Telemetry that may be shed (vitals): queued while the telemetry lane has room, else
        counted and dropped at once (False). Never blocks."""
        with self._cond:
            if len(self._lanes["telemetry"]) >= self.shed_at or len(self) >= self.size:
                self.shed[leaf] += 1
                self.last_shed = time.monotonic()
                return False
            self._lanes["telemetry"].append((time.monotonic(), item, None))
            self._added("telemetry")
            return True

    def take(self, most: int, timeout: float, lanes: tuple[str, ...] = LANES, linger: float = 0.0) -> list[T]:
        """Up to ``most`` items from ``lanes``, lane by lane; waits up to ``timeout`` for the first.
        ``linger``: when telemetry comes first, wait up to this long more for ``most`` of it, unless
        an alert arrives meanwhile: a batch is one transaction (one commit, one fsync, a handful of
        round trips), and a city's vitals taken as they came made a transaction of a few each."""
        with self._cond:
            if not self._cond.wait_for(lambda: any(self._lanes[name] for name in lanes), timeout):
                return []
            if linger > 0 and "telemetry" in lanes:
                others = [name for name in lanes if name != "telemetry"]
                self._fill_to = most
                self._cond.wait_for(lambda: len(self._lanes["telemetry"]) >= most
                                    or any(self._lanes[name] for name in others), linger)
                self._fill_to = _NEVER
            out: list[T] = []
            for name in lanes:
                lane = self._lanes[name]
                if not lane:
                    continue
                while lane and len(out) < most:
                    _t, item, key = lane.popleft()
                    out.append(item)
                    self._waiting.discard(key)
                if name != "telemetry" and out:
                    break  # alerts are committed without telemetry in the same transaction
            self._cond.notify_all()
            return out

    def shedding(self, within_s: float = 300.0) -> bool:
        return self.last_shed > 0 and time.monotonic() - self.last_shed < within_s

    def oldest_age(self) -> float:
        """Seconds the oldest waiting item has waited (0 when empty)."""
        with self._cond:
            firsts = [lane[0][0] for lane in self._lanes.values() if lane]
        return time.monotonic() - min(firsts) if firsts else 0.0

    def depth(self) -> dict[str, int]:
        with self._cond:
            return {name: len(lane) for name, lane in self._lanes.items()}

    def __len__(self) -> int:
        return sum(len(lane) for lane in self._lanes.values())
