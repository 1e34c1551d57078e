"""Telemetry is stored in batches, alerts at once (#37): a store loop that finds vitals first waits a
moment for a batch's worth (one transaction instead of dozens: at 10,000 homes a worker took a few
vitals per commit), unless an alert arrives meanwhile. The takers are woken for the first vital and
for a full batch, not for each one."""

from __future__ import annotations

import threading

from testutil import wait_for

LONG = 60.0  # a linger no test waits out: each returns on the event it is about


def _taker(lanes: object, most: int, linger: float, out: list[list[str]]) -> threading.Thread:
    thread = threading.Thread(target=lambda: out.append(lanes.take(most, 10.0, linger=linger)),  # type: ignore[attr-defined]
                              daemon=True)
    thread.start()
    return thread


def test_a_lingering_taker_returns_once_a_batch_of_telemetry_is_in() -> None:
    from eldergate.community.ingest.lanes import Lanes

    lanes: Lanes[str] = Lanes(100)
    out: list[list[str]] = []
    thread = _taker(lanes, 5, LONG, out)
    assert lanes.offer("v0", "vitals")
    assert wait_for(lambda: lanes._fill_to == 5), "the taker lingers for a batch once the first vital is in"
    for i in range(1, 5):
        assert lanes.offer(f"v{i}", "vitals")
    thread.join(10)
    assert out == [["v0", "v1", "v2", "v3", "v4"]], "the fifth vital wakes the taker: it does not wait out its linger"


def test_an_alert_ends_the_linger_and_goes_first() -> None:
    from eldergate.community.ingest.lanes import Lanes

    lanes: Lanes[str] = Lanes(100)
    out: list[list[str]] = []
    thread = _taker(lanes, 5, LONG, out)
    assert lanes.offer("v0", "vitals")
    assert wait_for(lambda: lanes._fill_to == 5)
    assert lanes.put("a fall", "fresh")
    thread.join(10)
    assert out == [["a fall"]], "the fall is taken at once, alone (alerts commit without telemetry)"
    assert lanes.take(5, 0.1) == ["v0"]


def test_without_a_batch_the_linger_ends_and_what_came_is_taken() -> None:
    from eldergate.community.ingest.lanes import Lanes

    lanes: Lanes[str] = Lanes(100)
    assert lanes.offer("v0", "vitals")
    assert lanes.take(5, 1.0, linger=0.05) == ["v0"]
    assert lanes._fill_to > 10**9, "no one lingers: vitals wake nobody but a taker waiting for anything"


def test_a_taker_waiting_for_anything_is_woken_by_the_first_vital() -> None:
    from eldergate.community.ingest.lanes import Lanes

    lanes: Lanes[str] = Lanes(100)
    out: list[list[str]] = []
    thread = threading.Thread(target=lambda: out.append(lanes.take(5, LONG)), daemon=True)
    thread.start()
    assert wait_for(lambda: bool(lanes._cond._waiters)), "the taker is waiting"  # type: ignore[attr-defined]
    assert lanes.offer("v0", "vitals")
    thread.join(10)
    assert out == [["v0"]]
