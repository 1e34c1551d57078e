"""The protocols eldergate speaks, by their short stable names, and how to build a parser."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from eldergate.drivers import ld2410, seeed_5359, ti_mmwave
from eldergate.drivers.base import MessageParser, StreamParser
from eldergate.drivers.json_mapping import FieldRule, JsonMappingParser
from eldergate.drivers.rtl433 import Rtl433Parser
from eldergate.drivers.seeed_tinyframe import TinyFrameParser
from eldergate.drivers.winsen import WinsenParser
from eldergate.drivers.zigbee2mqtt import Zigbee2MqttParser


@dataclass(frozen=True, slots=True)
class ProtocolInfo:
    name: str
    link: Literal["serial", "mqtt"]
    description: str
    default_baud: int = 0
    # commands written to the data port when it opens (LD2410: engineering mode, firmware query)
    startup: tuple[bytes, ...] = field(default_factory=tuple)


PROTOCOLS: dict[str, ProtocolInfo] = {
    p.name: p
    for p in (
        ProtocolInfo("mr60bha2", "serial", "Seeed MR60BHA2 60 GHz breathing/heart radar", 115200),
        ProtocolInfo("mr60fda2", "serial", "Seeed MR60FDA2 60 GHz fall radar", 115200),
        ProtocolInfo("mr60bha1", "serial", "Seeed MR60BHA1 (53 59 protocol) breathing/heart radar", 115200),
        ProtocolInfo("mr60fda1", "serial", "Seeed MR60FDA1 (53 59 protocol) fall radar", 115200),
        ProtocolInfo("mr24hpc1", "serial", "Seeed MR24HPC1 (53 59 protocol) 24 GHz presence", 115200),
        ProtocolInfo("ld2410", "serial", "Hi-Link LD2410/B/C 24 GHz presence", 256000, ld2410.STARTUP),
        ProtocolInfo("ti-mmwave", "serial", "TI IWR6843/1642/1443 demo output (tracking, vital signs)", 921600),
        ProtocolInfo("winsen-gas", "serial", "Winsen ZE07/ZE08/ZE15 or MH-Z19 UART gas module", 9600),
        ProtocolInfo("zigbee2mqtt", "mqtt", "Zigbee2MQTT device (door, gas, smoke, SOS, leak...)"),
        ProtocolInfo("rtl433", "mqtt", "rtl_433 433/868 MHz device (door contacts, smoke alarms)"),
        ProtocolInfo("json", "mqtt", "any MQTT JSON sensor, by the configured field mapping"),
    )
}


class UnknownProtocol(KeyError):
    pass


def protocol(name: str) -> ProtocolInfo:
    try:
        return PROTOCOLS[name]
    except KeyError:
        known = ", ".join(sorted(PROTOCOLS))
        raise UnknownProtocol(f"unknown protocol {name!r} (known: {known})") from None


_STREAM: dict[str, Callable[[dict[str, Any]], StreamParser]] = {
    "mr60bha2": lambda o: TinyFrameParser(),
    "mr60fda2": lambda o: TinyFrameParser(),
    "mr60bha1": lambda o: seeed_5359.Seeed5359Parser("mr60bha1"),
    "mr60fda1": lambda o: seeed_5359.Seeed5359Parser("mr60fda1"),
    "mr24hpc1": lambda o: seeed_5359.Seeed5359Parser("mr24hpc1"),
    "ld2410": lambda o: ld2410.LD2410Parser(),
    "ti-mmwave": lambda o: ti_mmwave.TiMmwaveParser(o.get("header", "auto")),
    "winsen-gas": lambda o: WinsenParser(o.get("gas", "co"), o.get("scale", 0.1), o.get("unit", "ppm")),
}


def stream_parser(name: str, options: dict[str, Any] | None = None) -> StreamParser:
    return _STREAM[name](options or {})


def message_parser(name: str, topic: str, options: dict[str, Any] | None = None) -> MessageParser:
    o = options or {}
    if name == "zigbee2mqtt":
        return Zigbee2MqttParser(topic)
    if name == "rtl433":
        return Rtl433Parser(topic, o["model"], o.get("device_id"), o.get("channel"))
    if name == "json":
        return JsonMappingParser(topic, [FieldRule(**r) for r in o.get("mapping", [])])
    raise UnknownProtocol(f"{name!r} is not a message protocol")


def describe() -> str:
    return "\n".join(f"  {p.name:<12} {p.link:<6} {p.description}" for p in PROTOCOLS.values())
