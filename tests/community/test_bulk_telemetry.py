"""Telemetry that costs what it is worth (#37), on the production batch path (BatchStore):

- a batch's status messages leave each gateway as its last one says, written in one UPDATE, the
  same as storing them one by one in order;
- a gateway's last_seen is written again only once it is a tenth of silence_s old (at most 60 s),
  and the silence check allows for that lag: never early.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from community_world import NOW_T, Receipts, World
from community_world import batch_store as _store
from community_world import incoming as _in


def _status(gw: str, state: str = "online", **kw: Any) -> bytes:
    return json.dumps({"v": 1, "site": "kz", "gateway": gw, "sent_at": NOW_T + 90, "state": state, **kw}).encode()


def _vitals(gw: str, t: float) -> bytes:
    return json.dumps({"v": 1, "site": "kz", "gateway": gw, "sent_at": t, "t": t, "resident": "r1",
                       "heart_rate_bpm": 64, "breathing_rate_bpm": 14.0, "quality": 0.9}).encode()


FIELDS = ("status", "version", "unsent_alerts", "sensors", "config_applied_version", "config_refused_version",
          "config_refused", "started_at")


def _gateways() -> dict[str, tuple[Any, ...]]:
    from eldergate.community.models import Gateway

    return {g.gateway: tuple(getattr(g, f) for f in FIELDS) for g in Gateway.objects.filter(site="kz")}


def _statuses() -> list[Any]:
    return [
        _in("status", "kz", "gw1", _status("gw1", unsent_alerts=3, version="1.0", sensors={"bed": "silent"})),
        _in("status", "kz", "gw2", _status("gw2", "offline")),
        _in("status", "kz", "gw1", _status("gw1", unsent_alerts=0, version="1.1", sensors={"bed": "ok"},
                                           config_version=2, config_refused_version=3,
                                           config_refused="night_start: not a time", started_at=NOW_T)),
    ]


def test_a_batch_of_statuses_is_what_storing_them_in_order_makes(world: World, db: Any) -> None:
    from eldergate.community.ingest.store import store as store_one
    from eldergate.community.models import Gateway

    store = _store(db, Receipts())
    assert store.store_batch(_statuses())
    together = _gateways()
    assert together["gw1"][:3] == ("online", "1.1", 0) and together["gw2"][0] == "offline"
    assert together["gw1"][4:7] == (2, 3, "night_start: not a time")

    Gateway.objects.filter(site="kz").update(status="", version="", unsent_alerts=0, sensors={},
                                             config_applied_version=0, config_refused_version=0,
                                             config_refused="", started_at=None)
    for it in _statuses():
        store_one(it.leaf, it.site, it.gateway, it.payload, store.clock.now(), db)
    assert _gateways() == together


def test_last_seen_is_written_seldom_and_silence_is_never_called_early(world: World, db: Any) -> None:
    from eldergate.community.models import Gateway
    from eldergate.community.work import offline

    store = _store(db, Receipts())
    touch = offline.touch_s(db)
    assert touch == min(60.0, db.offline.silence_s / 10)
    start = store.clock.now()
    t0 = start.timestamp()

    def seen() -> Any:
        return Gateway.objects.get(site="kz", gateway="gw1").last_seen

    assert store.store_batch([_in("vitals", "kz", "gw1", _vitals("gw1", t0))])
    assert seen() == start
    store.clock.advance(touch / 2)  # a report soon after: the row is left alone
    assert store.store_batch([_in("vitals", "kz", "gw1", _vitals("gw1", t0 + touch / 2))])
    assert seen() == start
    last = store.clock.advance(touch / 2)  # a tenth of silence_s since the write: written again
    assert store.store_batch([_in("vitals", "kz", "gw1", _vitals("gw1", t0 + touch))])
    assert seen() == last

    # the last report came touch/2 after `last`, unwritten: silence counts from `last`, plus the lag
    silence = timedelta(seconds=db.offline.silence_s)
    assert offline.check(last + silence + timedelta(seconds=touch / 2), db) == 0, "called silent early"
    assert offline.check(last + silence + timedelta(seconds=touch + 1), db) >= 1
