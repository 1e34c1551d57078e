"""One parser per configured sensor: raw bytes or MQTT messages to stamped readings."""

from __future__ import annotations

from eldergate.config.schema import Config, Sensor
from eldergate.drivers.base import MessageParser, ParserStats, StreamParser
from eldergate.drivers.readings import Reading, stamp
from eldergate.drivers.registry import protocol


class SensorDecoder:
    def __init__(self, sensor: Sensor) -> None:
        self.sensor = sensor
        info = protocol(sensor.protocol)
        self.stream: StreamParser | None = None
        self.message: MessageParser | None = None
        if info.stream_parser is not None:
            self.stream = info.stream_parser()
        elif info.message_parser is not None:
            topic = sensor.mqtt.topic if sensor.mqtt is not None else f"{sensor.protocol}/{sensor.id}"
            self.message = info.message_parser(topic)

    @property
    def stats(self) -> ParserStats:
        parser = self.stream or self.message
        assert parser is not None
        return parser.stats

    def bytes_in(self, t: float, data: bytes) -> list[Reading]:
        if self.stream is None:
            return []
        return [stamp(r, t, self.sensor.id) for r in self.stream.feed(data)]

    def message_in(self, t: float, topic: str, payload: bytes) -> list[Reading]:
        if self.message is None:
            return []
        return [stamp(r, t, self.sensor.id) for r in self.message.feed_message(topic, payload)]


def decoders_for(cfg: Config) -> dict[str, SensorDecoder]:
    return {s.id: SensorDecoder(s) for s in cfg.sensors}
