"""One parser per configured sensor: raw bytes or MQTT messages to stamped readings."""

from __future__ import annotations

from typing import Any

from eldergate.config.schema import Config, Sensor
from eldergate.drivers.base import MessageParser, ParserStats, StreamParser
from eldergate.drivers.protocols import message_parser, protocol, stream_parser
from eldergate.drivers.readings import Reading, stamp


def parser_options(sensor: Sensor) -> dict[str, Any]:
    """What a parser needs to know from the configuration, as plain values."""
    opts: dict[str, Any] = {}
    if sensor.gas is not None:
        opts |= {"gas": sensor.gas.gas, "scale": sensor.gas.scale, "unit": sensor.gas.unit}
    if sensor.mqtt is not None:
        opts |= {"model": sensor.mqtt.model, "device_id": sensor.mqtt.device_id, "channel": sensor.mqtt.channel}
    if sensor.mapping:
        opts["mapping"] = [m.model_dump() for m in sensor.mapping]
    return opts


class SensorDecoder:
    def __init__(self, sensor: Sensor) -> None:
        self.sensor = sensor
        info = protocol(sensor.protocol)
        self.stream: StreamParser | None = None
        self.message: MessageParser | None = None
        if info.link == "serial":
            self.stream = stream_parser(sensor.protocol, parser_options(sensor))
        else:
            topic = sensor.mqtt.topic if sensor.mqtt is not None else f"{sensor.protocol}/{sensor.id}"
            self.message = message_parser(sensor.protocol, topic, parser_options(sensor))

    @property
    def stats(self) -> ParserStats:
        parser = self.stream or self.message
        assert parser is not None
        return parser.stats

    def bytes_in(self, t: float, data: bytes) -> list[Reading]:
        if self.stream is None:
            return []
        return [stamp(r, t, self.sensor.id) for r in self.stream.feed(data)]

    def flush(self, t: float) -> list[Reading]:
        """End of input (a capture's end, a quiet line): parsers that hold a frame decode it."""
        flush = getattr(self.stream, "flush", None)
        return [stamp(r, t, self.sensor.id) for r in flush()] if flush is not None else []

    def message_in(self, t: float, topic: str, payload: bytes) -> list[Reading]:
        if self.message is None:
            return []
        return [stamp(r, t, self.sensor.id) for r in self.message.feed_message(topic, payload)]


def decoders_for(cfg: Config) -> dict[str, SensorDecoder]:
    return {s.id: SensorDecoder(s) for s in cfg.sensors}
