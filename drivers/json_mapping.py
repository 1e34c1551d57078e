"""Any vendor's MQTT sensor without code: a field path and how its value maps to a reading.

Configured per sensor as ``mapping = [{ path = "$.alarm", equals = 1, reading = "gas" }]``:
the field at ``path`` is compared with ``equals`` (or taken as a boolean when ``equals``
is not given) and becomes the named reading. Unknown fields are ignored; a message whose
mapped field has the wrong shape is counted as malformed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from eldergate.drivers.base import ParserStats
from eldergate.drivers.readings import Alarm, Battery, Contact, Presence, Reading
from eldergate.drivers.zigbee2mqtt import MAX_PAYLOAD


@dataclass(frozen=True, slots=True)
class FieldRule:
    path: str  # "$.a.b"
    reading: str  # gas | smoke | carbon_monoxide | water_leak | sos | contact | battery | presence
    equals: str | int | float | bool | None = None

    def extract(self, obj: Any) -> Any:
        for key in self.path.split(".")[1:]:
            if not isinstance(obj, dict) or key not in obj:
                return _MISSING
            obj = obj[key]
        return obj


_MISSING = object()


def _truth(value: Any, equals: str | int | float | bool | None) -> bool:
    if equals is not None:
        return bool(value == equals)
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str) and value.upper() in ("ON", "OFF", "TRUE", "FALSE", "1", "0"):
        return value.upper() in ("ON", "TRUE", "1")
    raise ValueError(f"cannot read {value!r:.30} as true/false")


class JsonMappingParser:
    def __init__(self, topic: str, rules: list[FieldRule]) -> None:
        self.topic = topic
        self.rules = rules
        self.stats = ParserStats()
        self.last_error: str | None = None

    def subscriptions(self) -> list[str]:
        return [self.topic]

    def feed_message(self, topic: str, payload: bytes) -> list[Reading]:
        if topic != self.topic:
            return []
        self.stats.bytes_in += len(payload)
        try:
            if len(payload) > MAX_PAYLOAD:
                raise ValueError(f"payload of {len(payload)} bytes")
            obj = json.loads(payload)
            out = [r for rule in self.rules if (r := self._apply(rule, obj)) is not None]
        except (ValueError, UnicodeDecodeError) as err:
            self.stats.malformed += 1
            self.last_error = str(err)[:200]
            return []
        self.stats.frames += 1
        return out

    def _apply(self, rule: FieldRule, obj: Any) -> Reading | None:
        value = rule.extract(obj)
        if value is _MISSING:
            return None
        if rule.reading == "battery" and rule.equals is None and isinstance(value, int | float):
            return Battery(percent=float(value))
        flag = _truth(value, rule.equals)
        if rule.reading == "contact":
            return Contact(closed=flag)
        if rule.reading == "battery":
            return Battery(low=flag)
        if rule.reading == "presence":
            return Presence(present=flag)
        return Alarm(alarm=rule.reading, active=flag)  # type: ignore[arg-type]
