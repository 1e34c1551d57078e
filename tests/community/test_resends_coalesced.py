"""A box resends an unreceipted alert every 2, 4, 8 … s; while the server is behind (a city's
replay), copies of one alert pile up in its queue, and each was stored as a duplicate and
receipted again: the drain did the same work three or four times over (#37). A resend of a copy
still queued is now acknowledged to the broker at once and dropped; the queued copy is stored,
receipted once, and acknowledged only after its commit. A resend that says something new (its
box paged someone since) is queued as before."""

from __future__ import annotations

import json
import threading
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from broker import Mosquitto, online
from community_world import NOW_T, World, alert_payload
from testutil import wait_for

pytestmark = [pytest.mark.broker]


def test_lanes_know_which_copies_wait_until_they_are_taken() -> None:
    from eldergate.community.ingest.lanes import Lanes, sort

    lanes: Lanes[str] = Lanes(10)
    lane, key = sort("alerts", "kz", "gw1", alert_payload("kz", "gw1", "a1", t=NOW_T), NOW_T + 600)
    assert (lane, key) == ("alerts", ("kz", "gw1", "a1", "raised", ()))
    assert sort("alerts", "kz", "gw1", alert_payload("kz", "gw1", "a1", t=NOW_T, paged=["relative"]), NOW_T)[1] \
        == ("kz", "gw1", "a1", "raised", ("relative",))
    # another box's copy of the same id is its own (a forger's never stands for its victim's)
    assert sort("alerts", "kz", "gw2", alert_payload("kz", "gw1", "a1", t=NOW_T), NOW_T)[1] != key
    # off the contract: no key, so each copy reaches the store and its dead letters
    assert sort("alerts", "kz", "gw1", alert_payload("kz", "gw1", "a/b", t=NOW_T), NOW_T) == ("fresh", None)
    assert sort("alerts", "kz", "gw1", alert_payload("kz", "gw1", "a1", state="gone", t=NOW_T), NOW_T)[1] is None
    assert sort("alerts", "kz", "gw1", b"{not json", NOW_T) == ("alerts", None)
    assert sort("vitals", "kz", "gw1", b"{}", NOW_T) == ("telemetry", None)
    assert not lanes.waiting(None)
    assert lanes.put("first copy", lane, key=key)
    assert lanes.waiting(key)
    assert lanes.take(5, 0.1) == ["first copy"]
    assert not lanes.waiting(key), "a copy arriving while the first is being stored is queued (and known there)"


def test_resends_of_a_queued_alert_are_acknowledged_and_stored_once(world: World, db: Any,
                                                                       mosquitto: Mosquitto) -> None:
    """The queued copy is the one the broker still holds for the server: killed before its commit
    (the connection cut, no DISCONNECT), the server gets that copy again and nothing else."""
    from eldergate.community.clock import ManualClock
    from eldergate.community.ingest.mqtt import Ingest
    from eldergate.community.models import Alert, AlertState

    cfg = db.model_copy(update={"broker": db.broker.model_copy(update={"url": mosquitto.url})})
    clock = ManualClock()
    clock.t = clock.t.replace(year=2026, month=11, day=18, hour=23, minute=45)  # the copies were raised 11 min ago
    first = Ingest(cfg, clock, client_suffix="-coalesce")
    held, release = threading.Event(), threading.Event()
    store = first.store_batch

    def held_store(items: list[Any]) -> bool:
        held.set()
        release.wait(30)
        return store(items)

    first.store_batch = held_store  # type: ignore[method-assign]
    receipts: list[dict[str, Any]] = []
    box = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    box.on_message = lambda _c, _u, m: receipts.append(json.loads(m.payload))
    online(box, mosquitto.port)
    box.subscribe("eldergate/v1/kz/gw1/ack", qos=1)
    topic = "eldergate/v1/kz/gw1/alerts"
    first.start()
    second = None
    try:
        assert first.connected.wait(10)
        # a first alert takes the store thread and holds it, as a long batch would
        box.publish(topic, alert_payload("kz", "gw1", "first", t=NOW_T), qos=1).wait_for_publish(5)
        assert held.wait(10)
        for k in range(4):  # the first copy and three resends, each with its own sent_at
            box.publish(topic, alert_payload("kz", "gw1", "replayed", t=NOW_T + 1, sent_at=NOW_T + 1 + k),
                        qos=1).wait_for_publish(5)
        assert wait_for(lambda: first.counts["coalesced"] == 3, 5)
        for c in (first.client, first.telemetry):  # killed: no DISCONNECT, nothing acknowledged after
            c.loop_stop()
            sock = c.socket()
            if sock is not None:
                sock.close()
        first._stop.set()

        second = Ingest(cfg, clock, client_suffix="-coalesce")  # its session: what was not acknowledged
        second.start()
        assert wait_for(lambda: Alert.objects.filter(alert_id="replayed").exists(), 10), \
            "the queued copy was acknowledged before its commit"
        assert wait_for(lambda: any(r["alert_id"] == "replayed" for r in receipts), 10)
        # a marker behind whatever the broker redelivered (the same lane, first in first out):
        # once it is stored, anything redelivered has been handled
        box.publish(topic, alert_payload("kz", "gw1", "marker", t=NOW_T + 2), qos=1).wait_for_publish(5)
        assert wait_for(lambda: Alert.objects.filter(alert_id="marker").exists(), 10)
        assert second.counts["duplicate"] + second.counts["coalesced"] == 0, \
            "the coalesced resends were not acknowledged"
        alert = Alert.objects.get(alert_id="replayed")
        assert AlertState.objects.filter(alert=alert, state="raised").count() == 1

        # a resend that says something new (its box paged the grid worker since) is stored
        box.publish(topic, alert_payload("kz", "gw1", "replayed", t=NOW_T + 1, sent_at=NOW_T + 9,
                                         paged=["grid_worker"]), qos=1).wait_for_publish(5)
        assert wait_for(lambda: Alert.objects.get(alert_id="replayed").paged_by_gateway == ["grid_worker"], 10)
        assert wait_for(lambda: [r.get("paged", []) for r in receipts if r["alert_id"] == "replayed"][-1:]
                        == [["grid_worker"]], 10)
    finally:
        release.set()
        if second is not None:
            second.stop()
        box.loop_stop()
        box.disconnect()
