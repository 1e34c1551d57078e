"""The protocols eldergate speaks, by their short stable names."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from eldergate.drivers.base import MessageParser, StreamParser
from eldergate.drivers.seeed_tinyframe import TinyFrameParser
from eldergate.drivers.zigbee2mqtt import Zigbee2MqttParser


@dataclass(frozen=True, slots=True)
class ProtocolInfo:
    name: str
    link: Literal["serial", "mqtt"]
    description: str
    default_baud: int = 0
    stream_parser: Callable[[], StreamParser] | None = None
    message_parser: Callable[[str], MessageParser] | None = None


PROTOCOLS: dict[str, ProtocolInfo] = {
    p.name: p
    for p in (
        ProtocolInfo("mr60bha2", "serial", "Seeed MR60BHA2 60 GHz breathing/heart radar", 115200,
                     stream_parser=TinyFrameParser),
        ProtocolInfo("mr60fda2", "serial", "Seeed MR60FDA2 60 GHz fall radar", 115200,
                     stream_parser=TinyFrameParser),
        ProtocolInfo("zigbee2mqtt", "mqtt", "Zigbee2MQTT device (door, gas, smoke, SOS, leak...)",
                     message_parser=Zigbee2MqttParser),
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


def describe() -> str:
    return "\n".join(f"  {p.name:<12} {p.link:<6} {p.description}" for p in PROTOCOLS.values())
