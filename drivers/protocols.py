"""The protocols eldergate speaks: one entry each, from which everything else derives.

An entry says how the protocol arrives (serial or MQTT), what it is, the role a sensor of it
plays by default (``eldergate replay --sensor ID=PROTOCOL``), what the configuration must give
its parser, and how to build the parser. The configuration's validation, the sensor decoders,
the command line and its help all read this table: adding a protocol is one entry here (and
its parser module); ``tests/test_protocols.py`` shows that this is enough.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from eldergate.drivers import ld2410, seeed_5359, ti_mmwave
from eldergate.drivers.base import MessageParser, StreamParser
from eldergate.drivers.errors import InputError
from eldergate.drivers.json_mapping import FieldRule, JsonMappingParser
from eldergate.drivers.rtl433 import Rtl433Parser
from eldergate.drivers.seeed_tinyframe import TinyFrameParser
from eldergate.drivers.winsen import WinsenParser
from eldergate.drivers.zigbee2mqtt import Zigbee2MqttParser

Options = dict[str, Any]  # what the configuration gives a parser; MQTT parsers get their "topic" too
Link = Literal["serial", "mqtt"]


@dataclass(frozen=True, slots=True)
class ProtocolInfo:
    """Exactly one of ``stream`` (a byte stream: UART) and ``message`` (MQTT) builds its parser."""

    name: str
    description: str
    role: str  # the role a sensor of this protocol plays when nothing else says
    stream: Callable[[Options], StreamParser] | None = None
    message: Callable[[Options], MessageParser] | None = None
    default_baud: int = 0
    # commands written to the data port when it opens (LD2410: engineering mode, firmware query)
    startup: tuple[bytes, ...] = field(default_factory=tuple)
    # parser options the configuration must give, and where (a key of [sensors.mqtt], or "mapping")
    requires: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if (self.stream is None) == (self.message is None):
            raise ValueError(f"protocol {self.name}: give exactly one of stream= and message=")

    @property
    def link(self) -> Link:
        return "serial" if self.stream is not None else "mqtt"


PROTOCOLS: dict[str, ProtocolInfo] = {}


def register(info: ProtocolInfo) -> ProtocolInfo:
    PROTOCOLS[info.name] = info
    return info


for _info in (
    ProtocolInfo("mr60bha2", "Seeed MR60BHA2 60 GHz breathing/heart radar", "bed_radar",
                 stream=lambda o: TinyFrameParser(), default_baud=115200),
    ProtocolInfo("mr60fda2", "Seeed MR60FDA2 60 GHz fall radar", "room_radar",
                 stream=lambda o: TinyFrameParser(), default_baud=115200),
    ProtocolInfo("mr60bha1", "Seeed MR60BHA1 (53 59 protocol) breathing/heart radar", "bed_radar",
                 stream=lambda o: seeed_5359.Seeed5359Parser("mr60bha1"), default_baud=115200),
    ProtocolInfo("mr60fda1", "Seeed MR60FDA1 (53 59 protocol) fall radar", "room_radar",
                 stream=lambda o: seeed_5359.Seeed5359Parser("mr60fda1"), default_baud=115200),
    ProtocolInfo("mr24hpc1", "Seeed MR24HPC1 (53 59 protocol) 24 GHz presence", "presence",
                 stream=lambda o: seeed_5359.Seeed5359Parser("mr24hpc1"), default_baud=115200),
    ProtocolInfo("ld2410", "Hi-Link LD2410/B/C 24 GHz presence", "presence",
                 stream=lambda o: ld2410.LD2410Parser(), default_baud=256000, startup=ld2410.STARTUP),
    ProtocolInfo("ti-mmwave", "TI IWR6843/1642/1443 demo output (tracking, vital signs)", "room_radar",
                 stream=lambda o: ti_mmwave.TiMmwaveParser(o.get("header", "auto")), default_baud=921600),
    ProtocolInfo("winsen-gas", "Winsen ZE07/ZE08/ZE15 or MH-Z19 UART gas module", "gas",
                 stream=lambda o: WinsenParser(o.get("gas", "co"), o.get("scale", 0.1), o.get("unit", "ppm")),
                 default_baud=9600),
    ProtocolInfo("zigbee2mqtt", "Zigbee2MQTT device (door, gas, smoke, SOS, leak...)", "door",
                 message=lambda o: Zigbee2MqttParser(o["topic"])),
    ProtocolInfo("rtl433", "rtl_433 433/868 MHz device (door contacts, smoke alarms)", "door",
                 message=lambda o: Rtl433Parser(o["topic"], o["model"], o.get("device_id"), o.get("channel")),
                 requires=("model",)),
    ProtocolInfo("json", "any MQTT JSON sensor, by the configured field mapping", "presence",
                 message=lambda o: JsonMappingParser(o["topic"], [FieldRule(**r) for r in o.get("mapping", [])]),
                 requires=("mapping",)),
):
    register(_info)


class UnknownProtocol(InputError, KeyError):
    """A protocol name nobody registered."""


def protocol(name: str) -> ProtocolInfo:
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise UnknownProtocol(f"unknown protocol {name!r} (known: {', '.join(PROTOCOLS)})") from None


def stream_parser(name: str, options: Options | None = None) -> StreamParser:
    make = protocol(name).stream
    if make is None:
        raise UnknownProtocol(f"{name!r} is not a serial protocol")
    return make(options or {})


def message_parser(name: str, topic: str, options: Options | None = None) -> MessageParser:
    make = protocol(name).message
    if make is None:
        raise UnknownProtocol(f"{name!r} is not a message protocol")
    return make({**(options or {}), "topic": topic})


def describe() -> str:
    return "\n".join(f"  {p.name:<12} {p.link:<6} {p.description}" for p in PROTOCOLS.values())
