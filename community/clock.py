"""Time, injected: every timer (escalation, offline, resends, retention) asks a Clock, so tests run
them on a clock they move by hand instead of sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.t = start or datetime(2026, 11, 29, 2, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.t

    def advance(self, seconds: float) -> datetime:
        self.t += timedelta(seconds=seconds)
        return self.t


class _Current:
    clock: Clock = SystemClock()


CURRENT = _Current()  # what the API and the pages ask for "now"; tests swap in a ManualClock


def now() -> datetime:
    return CURRENT.clock.now()


def from_unix(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)
