"""rtl_433 (433/868 MHz) JSON to readings (ecosystem.md A2).

rtl_433 publishes every decoded message on ``rtl_433/<host>/events`` and, per field, on
``rtl_433/<host>/devices[/type][/model][/subtype][/channel][/id]/<key>``. Integers are
always decimal in JSON (even ids the text output prints in hex), so a device is keyed by
``model`` + ``id`` (+ ``channel``). Many cheap sensors are fire-and-forget: a Sgooway door
contact sends only "open", Kidde and GS558 smoke alarms signal only by transmitting. Those
become ``Pulse`` readings; the home pipeline collapses a press's burst of repeats and
returns them to idle after a while.
"""

from __future__ import annotations

import json
from typing import Any

from eldergate.drivers.base import ParserStats
from eldergate.drivers.errors import MalformedPayload
from eldergate.drivers.readings import Alarm, Battery, Contact, Pulse, Reading, Tamper
from eldergate.drivers.zigbee2mqtt import MAX_PAYLOAD

_PULSE_ONLY_SMOKE = {"Smoke-GS558", "Kidde-Smoke"}
_PULSE_ONLY_DOORS = {"EV1527-DDS", "JCHENG-Contact", "Sgooway-Door"}


class Rtl433Parser:
    """Decodes one device's messages. ``topic`` is the events topic or a devices/ prefix."""

    def __init__(self, topic: str, model: str, device_id: int | str | None = None,
                 channel: int | None = None) -> None:
        self.topic = topic.rstrip("/")
        self.base = self.topic.rsplit("/", 1)[0] if self.topic.endswith("/events") else self.topic
        self.model, self.device_id, self.channel = model, device_id, channel
        self.stats = ParserStats()
        self.last_error: str | None = None

    def subscriptions(self) -> list[str]:
        return [f"{self.base}/events", f"{self.base}/devices/#"]

    def feed_message(self, topic: str, payload: bytes) -> list[Reading]:
        self.stats.bytes_in += len(payload)
        try:
            if len(payload) > MAX_PAYLOAD:
                raise MalformedPayload(f"payload of {len(payload)} bytes is over {MAX_PAYLOAD}")
            obj = self._message(topic, payload)
            if obj is None or not self._mine(obj):
                return []
            readings = decode_event(obj)
        except (ValueError, UnicodeDecodeError) as err:  # MalformedPayload is a ValueError
            self.stats.malformed += 1
            self.last_error = str(err)[:200]
            return []
        self.stats.frames += 1
        return readings

    def _message(self, topic: str, payload: bytes) -> dict[str, Any] | None:
        if topic == f"{self.base}/events":
            obj = json.loads(payload)
            if not isinstance(obj, dict):
                raise MalformedPayload(f"expected a JSON object, got {type(obj).__name__}")
            return obj
        prefix = f"{self.base}/devices/"
        if not topic.startswith(prefix):
            return None
        parts = topic[len(prefix) :].split("/")
        if self.model not in parts or (self.device_id is not None and str(self.device_id) not in parts):
            return None
        value: Any = payload.decode().strip()
        try:
            value = json.loads(value)
        except ValueError:
            pass  # plain strings such as "open"
        return {"model": self.model, "id": self.device_id, "channel": self.channel, parts[-1]: value}

    def _mine(self, obj: dict[str, Any]) -> bool:
        if obj.get("model") != self.model:
            return False
        if self.device_id is not None and str(obj.get("id")) != str(self.device_id):
            return False
        return self.channel is None or obj.get("channel") in (None, self.channel)


def _flag(obj: dict[str, Any], key: str) -> bool | None:
    v = obj.get(key)
    if v is None:
        return None
    if isinstance(v, bool | int):
        return bool(v)
    if isinstance(v, str) and v.upper() in ("OPEN", "CLOSED", "1", "0"):
        return v.upper() in ("OPEN", "1")
    raise ValueError(f"{key}: unexpected {v!r:.30}")


def decode_event(obj: dict[str, Any]) -> list[Reading]:
    model = str(obj.get("model"))
    out: list[Reading] = []
    if model in _PULSE_ONLY_SMOKE:
        out.append(Pulse(what="smoke"))
    elif model in _PULSE_ONLY_DOORS:
        out.append(Pulse(what="door_open"))
    elif model == "Honeywell-Security":
        opened = _flag(obj, "contact_open")
        if opened is not None:
            out.append(Contact(closed=not opened))
    elif model == "DSC-Security":
        closed = _flag(obj, "closed")
        if closed is not None:
            out.append(Contact(closed=closed))
    elif model == "Kerui-Security":
        out += _kerui(obj)
    elif model == "Interlogix-Security":
        out += _interlogix(obj)
    elif model == "Chuango-Security":
        out += _chuango(obj)
    elif model.startswith("Cavius"):
        out += _cavius(obj)
    tamper = _flag(obj, "tamper")
    if tamper is not None:
        out.append(Tamper(tampered=tamper))
    ok = obj.get("battery_ok")
    if isinstance(ok, int | float):  # 0..1, or 1/0 for OK/LOW (bool is an int too)
        out.append(Battery(low=float(ok) < 0.5))
    return out


def _kerui(obj: dict[str, Any]) -> list[Reading]:
    if "opened" in obj:
        return [Contact(closed=not _flag(obj, "opened"))]
    if obj.get("state") == "water" or obj.get("water"):
        return [Pulse(what="water_leak")]
    return []


def _interlogix(obj: dict[str, Any]) -> list[Reading]:
    subtype = obj.get("subtype")
    if subtype == "smoke":
        return [Pulse(what="smoke")]
    if subtype == "panic":
        return [Pulse(what="sos")]
    if subtype == "contact" and isinstance(obj.get("switch1"), str):
        return [Contact(closed=obj["switch1"].upper() == "CLOSED")]
    return []


def _chuango(obj: dict[str, Any]) -> list[Reading]:
    cmd = str(obj.get("cmd", ""))
    if cmd == "Closing":
        return [Contact(closed=True)]
    if cmd == "Alarm":
        return [Pulse(what="smoke")]
    if cmd in ("Normal Zone", "24H Zone"):
        return [Pulse(what="door_open")]
    if cmd == "Low Battery":
        return [Battery(low=True)]
    return []


def _cavius(obj: dict[str, Any]) -> list[Reading]:
    text = str(obj.get("text", ""))
    if text == "Fire alarm":
        return [Alarm(alarm="smoke", active=True)]
    if text == "Test alarm":
        return [Alarm(alarm="smoke", active=True, test=True)]
    if text.startswith("Warning/Water"):
        return [Pulse(what="water_leak")]
    if obj.get("state") in ("open", "closed"):
        return [Contact(closed=obj["state"] == "closed")]
    return []
