"""What the health endpoint reports about this process's parts (set by `serve`)."""

from __future__ import annotations

from collections.abc import Callable


class _State:
    broker: Callable[[], bool] | None = None  # None: this process has no broker connection (web role)
    counts: Callable[[], dict[str, int]] = dict


STATE = _State()


def broker_connected() -> bool | None:
    return None if STATE.broker is None else STATE.broker()


def counts() -> dict[str, int]:
    return dict(STATE.counts())
