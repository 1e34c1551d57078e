"""Zigbee2MQTT payload decoding (ecosystem.md A1): traps and malformed input."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from eldergate.drivers.readings import Alarm, Availability, Battery, ButtonPress, Contact, LinkQuality, Tamper
from eldergate.drivers.zigbee2mqtt import Zigbee2MqttParser
from eldergate.signal.home_sensors import HomeSensorEvents
from eldergate.signal.model import EventName


def feed(p: Zigbee2MqttParser, topic: str, obj: object) -> list[object]:
    return list(p.feed_message(topic, json.dumps(obj).encode()))


def test_contact_true_means_closed_and_friendly_name_with_slash() -> None:
    p = Zigbee2MqttParser("zigbee2mqtt/hall/door")
    # the illustrative Aqara message of ecosystem.md A1.3: contact false = open
    msg = {"contact": False, "battery": 91, "voltage": 3005, "device_temperature": 23,
           "power_outage_count": 4, "trigger_count": 12, "linkquality": 72}
    assert feed(p, "zigbee2mqtt/hall/door", msg) == [Contact(closed=False), Battery(percent=91.0, low=None),
                                                      LinkQuality(value=72.0)]
    assert feed(p, "zigbee2mqtt/hall/door/set", {"contact": True}) == []
    assert feed(p, "zigbee2mqtt/hall", {"contact": True}) == []


def test_both_availability_forms_and_bridge_state() -> None:
    p = Zigbee2MqttParser("zigbee2mqtt/kitchen_gas")
    assert p.feed_message("zigbee2mqtt/kitchen_gas/availability", b'{"state":"offline"}') == [
        Availability(online=False)]
    assert p.feed_message("zigbee2mqtt/kitchen_gas/availability", b"online") == [Availability(online=True)]
    assert p.feed_message("zigbee2mqtt/bridge/state", b'{"state":"offline"}') == [
        Availability(online=False, scope="bridge")]


def test_smoke_test_is_not_a_fire() -> None:
    p = Zigbee2MqttParser("zigbee2mqtt/smoke")
    msg = {"smoke": True, "battery_low": False, "battery": 88, "tamper": False, "test": True, "linkquality": 54}
    out = feed(p, "zigbee2mqtt/smoke", msg)
    assert Alarm(alarm="smoke", active=True, test=True) in out
    events = HomeSensorEvents("r1", "hall", "smoke")
    names = [e.name for r in out for e in events.feed(r)]
    assert names == [EventName.SMOKE_TEST]


def test_cached_gas_true_yields_one_event() -> None:
    p = Zigbee2MqttParser("zigbee2mqtt/gas")
    events = HomeSensorEvents("r1", "kitchen", "gas")
    names = []
    for msg in ({"gas": False, "tamper": False}, {"gas": True, "tamper": False},
                {"gas": True, "tamper": False, "battery": 80}, {"gas": True, "battery_low": False},
                {"gas": False}):
        for r in feed(p, "zigbee2mqtt/gas", msg):
            names += [e.name for e in events.feed(r)]
    assert names == [EventName.GAS, EventName.GAS_CLEARED]


def test_tuya_on_off_strings_and_aqara_preparation() -> None:
    p = Zigbee2MqttParser("zigbee2mqtt/co")
    assert feed(p, "zigbee2mqtt/co", {"carbon_monoxide": "ON"}) == [Alarm(alarm="carbon_monoxide", active=True)]
    assert feed(p, "zigbee2mqtt/co", {"gas": True, "state": "preparation"}) == []


def test_sos_action_and_tamper() -> None:
    p = Zigbee2MqttParser("zigbee2mqtt/sos")
    assert feed(p, "zigbee2mqtt/sos", {"action": "emergency", "battery": 100}) == [
        ButtonPress(action="emergency"), Battery(percent=100.0, low=None)]
    assert feed(p, "zigbee2mqtt/sos", {"tamper": True}) == [Tamper(tampered=True)]


def test_malformed_payloads_are_counted_not_raised() -> None:
    p = Zigbee2MqttParser("zigbee2mqtt/door")
    for payload in (b"not json", b"[1,2]", b'{"contact": "yes"}', b'{"battery": "full"}', b"\xff\xfe",
                    b'{"contact": true, "x": "' + b"a" * 70000 + b'"}'):
        assert p.feed_message("zigbee2mqtt/door", payload) == []
    assert p.stats.malformed == 6
    assert p.last_error is not None
    assert feed(p, "zigbee2mqtt/door", {"contact": True, "unknown_key": [1]}) == [Contact(closed=True)]


@given(st.binary(max_size=300), st.sampled_from(["zigbee2mqtt/d", "zigbee2mqtt/d/availability",
                                                 "zigbee2mqtt/bridge/state", "other"]))
@settings(max_examples=300, deadline=None)
def test_arbitrary_payloads_never_raise(payload: bytes, topic: str) -> None:
    Zigbee2MqttParser("zigbee2mqtt/d").feed_message(topic, payload)


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
                           lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
                           max_leaves=8)


@given(st.dictionaries(st.sampled_from(["contact", "gas", "smoke", "battery", "battery_low", "tamper", "action",
                                        "linkquality", "test", "occupancy", "state", "water_leak"]), json_values))
@settings(max_examples=300, deadline=None)
def test_arbitrary_json_objects_never_raise(obj: dict[str, object]) -> None:
    Zigbee2MqttParser("zigbee2mqtt/d").feed_message("zigbee2mqtt/d", json.dumps(obj).encode())
