"""Zigbee2MQTT payloads to readings (ecosystem.md part A1).

Traps handled here: friendly names may contain ``/`` so topics are classified by suffix,
never by depth; availability is JSON (``{"state":"online"}``) in Z2M 2.x and a plain
string before; ``contact: true`` means CLOSED; ``test`` marks a smoke self-test; some
Tuya devices send ``"ON"``/``"OFF"`` strings for booleans; Aqara gas detectors report
``state: preparation`` while warming up, when ``gas`` means nothing. Unknown keys are
ignored (converters publish more keys than their device pages list).
"""

from __future__ import annotations

import json
from typing import Any

from eldergate.drivers.base import ParserStats
from eldergate.drivers.errors import MalformedPayload
from eldergate.drivers.readings import (
    Alarm,
    AlarmKind,
    Availability,
    Battery,
    ButtonPress,
    Contact,
    DeviceFall,
    LinkQuality,
    Presence,
    Reading,
    Tamper,
)

MAX_PAYLOAD = 64 * 1024
_ALARM_KEYS: tuple[AlarmKind, ...] = ("smoke", "gas", "carbon_monoxide", "water_leak", "sos")




def _bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.upper() in ("ON", "OFF", "TRUE", "FALSE"):
        return value.upper() in ("ON", "TRUE")
    raise MalformedPayload(f"{key}: expected a boolean, got {type(value).__name__}")


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool):
        raise MalformedPayload(f"{key}: expected a number, got a boolean")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):  # e.g. "battery": "100.00" (ecosystem.md §5.2 log)
        try:
            return float(value)
        except ValueError:
            pass
    raise MalformedPayload(f"{key}: expected a number, got {value!r:.40}")


def _availability(payload: bytes) -> bool:
    text = payload.decode("utf-8", "replace").strip()
    state = json.loads(text).get("state") if text.startswith("{") else text  # or the legacy plain string
    if state not in ("online", "offline"):
        raise MalformedPayload(f"availability: unexpected state {state!r:.40}")
    return bool(state == "online")


def decode_state(obj: dict[str, Any]) -> list[Reading]:
    """One Z2M state message to readings, in a fixed order. Raises MalformedPayload."""
    out: list[Reading] = []
    if "contact" in obj:
        out.append(Contact(closed=_bool(obj["contact"], "contact")))
    warming_up = obj.get("state") == "preparation"
    test = _bool(obj["test"], "test") if "test" in obj else False
    for key in _ALARM_KEYS:
        if key in obj and not (key == "gas" and warming_up):
            out.append(Alarm(alarm=key, active=_bool(obj[key], key), test=test and key == "smoke"))
    if isinstance(obj.get("action"), str) and obj["action"]:
        out.append(ButtonPress(action=obj["action"]))
    for name in ("presence", "occupancy"):
        if name in obj:
            out.append(Presence(present=_bool(obj[name], name)))
            break
    if "fall_down_status" in obj:
        out.append(DeviceFall(fallen=obj["fall_down_status"] == "fall"))
    if "battery" in obj or "battery_low" in obj:
        pct = _number(obj["battery"], "battery") if obj.get("battery") is not None else None
        low = _bool(obj["battery_low"], "battery_low") if "battery_low" in obj else None
        out.append(Battery(percent=pct, low=low))
    if "tamper" in obj:
        out.append(Tamper(tampered=_bool(obj["tamper"], "tamper")))
    if "linkquality" in obj and obj["linkquality"] is not None:
        out.append(LinkQuality(value=_number(obj["linkquality"], "linkquality")))
    return out


class Zigbee2MqttParser:
    """Decodes the messages of one Z2M device, its availability and its bridge's state.

    ``topic`` is the device's state topic, e.g. ``zigbee2mqtt/bedroom/door``; the base
    topic is taken to be its first level.
    """

    def __init__(self, topic: str) -> None:
        self.topic = topic.rstrip("/")
        self.base = self.topic.split("/", 1)[0]
        self.stats = ParserStats()
        self.last_error: str | None = None

    def subscriptions(self) -> list[str]:
        return [self.topic, f"{self.topic}/availability", f"{self.base}/bridge/state"]

    def feed_message(self, topic: str, payload: bytes) -> list[Reading]:
        self.stats.bytes_in += len(payload)
        try:
            if len(payload) > MAX_PAYLOAD:
                raise MalformedPayload(f"payload of {len(payload)} bytes is over {MAX_PAYLOAD}")
            readings = self._classify(topic, payload)
        except (ValueError, UnicodeDecodeError) as err:  # MalformedPayload is a ValueError
            self.stats.malformed += 1
            self.last_error = str(err)[:200]
            return []
        if readings is None:
            return []
        self.stats.frames += 1
        return readings

    def _classify(self, topic: str, payload: bytes) -> list[Reading] | None:
        if topic == f"{self.base}/bridge/state":
            return [Availability(online=_availability(payload), scope="bridge")]
        if topic == f"{self.topic}/availability":
            return [Availability(online=_availability(payload), scope="device")]
        if topic != self.topic:
            return None  # /set, /get, other devices, attribute subtopics
        obj = json.loads(payload)
        if not isinstance(obj, dict):
            raise MalformedPayload(f"expected a JSON object, got {type(obj).__name__}")
        return decode_state(obj)


def encode_state(state: dict[str, Any]) -> bytes:
    """What an emulated Z2M device publishes (tests and the demo)."""
    return json.dumps(state, separators=(",", ":")).encode()
