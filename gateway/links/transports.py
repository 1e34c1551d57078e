"""Transports only move bytes: serial ports and in-process message buses.

A transport reads, hands what it read to its sensor's decoder, and puts the readings on
the core queue. It reports its own health (connected, reconnecting, frames dropped) and
never parses anything itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import serial

from eldergate.drivers.errors import TransientError
from eldergate.gateway.core.clock import Clock
from eldergate.gateway.core.health import LinkHealth
from eldergate.gateway.core.inbox import Inbox
from eldergate.gateway.links.decode import SensorDecoder

log = logging.getLogger(__name__)

RawTap = Callable[[float, str, bytes], None]


class SerialTransport:
    """Reads one serial port in its own thread; reopens it with back-off when it goes."""

    def __init__(self, decoder: SensorDecoder, port: str, baud: int, clock: Clock,
                 out: Inbox, stop: threading.Event, raw_tap: RawTap | None = None,
                 backoff: tuple[float, float] = (0.2, 30.0), startup: tuple[bytes, ...] = (),
                 before_open: Callable[[], object] | None = None) -> None:
        self.decoder, self.port, self.baud = decoder, port, baud
        self.startup = startup  # commands written each time the port opens
        self.before_open = before_open  # e.g. the TI chirp configuration over the CLI port
        self.clock, self.out, self.stop = clock, out, stop
        self.raw_tap = raw_tap
        self.health = LinkHealth(decoder.sensor.id)
        self._backoff = backoff

    @property
    def name(self) -> str:
        return self.decoder.sensor.id

    def run(self) -> None:
        delay = self._backoff[0]
        while not self.stop.is_set():
            try:
                if self.before_open is not None:
                    self.before_open()
                with self._open() as ser:
                    for command in self.startup:
                        ser.write(command)
                    if self.health.reconnects or self.health.last_error:
                        log.info("%s: serial port back (%s)", self.name, self.port)
                    self.health.connected, self.health.last_error = True, None
                    delay = self._backoff[0]
                    self._read_loop(ser)
            except (serial.SerialException, OSError, TransientError) as err:
                if self.health.connected or self.health.last_error is None:
                    log.warning("%s: serial port %s unavailable: %s (retrying)", self.name, self.port, err)
                self.health.connected = False
                self.health.last_error = str(err)[:200]
                self.health.reconnects += 1
                self.stop.wait(delay)
                delay = min(delay * 2, self._backoff[1])

    def _open(self) -> serial.Serial:
        return serial.Serial(self.port, self.baud, timeout=0.2, bytesize=8, parity="N", stopbits=1)

    def _read_loop(self, ser: serial.Serial) -> None:
        while not self.stop.is_set():
            waiting = ser.in_waiting
            data = ser.read(waiting or 1)
            if not data:  # the line is quiet: a frame held for more bytes is complete
                for r in self.decoder.flush(self.clock.now()):
                    self.out.put(r)
                continue
            t = self.clock.now()
            self.health.last_data = t
            if self.raw_tap is not None:
                self.raw_tap(t, self.name, data)
            for r in self.decoder.bytes_in(t, data):
                self.out.put(r)


class MessageBus:
    """An in-process stand-in for the home's broker: publishers call ``publish``.

    The demo uses it when no Mosquitto is available; the readings it produces come from
    the same Zigbee2MQTT parser that reads a real broker.
    """

    def __init__(self, clock: Clock, out: Inbox, raw_tap: Callable[[float, str, str, bytes], None]
                 | None = None) -> None:
        self.clock, self.out, self.raw_tap = clock, out, raw_tap
        self._routes: list[SensorDecoder] = []

    def attach(self, decoder: SensorDecoder) -> None:
        self._routes.append(decoder)

    def publish(self, topic: str, payload: bytes) -> None:
        t = self.clock.now()
        for dec in self._routes:
            if self.raw_tap is not None and dec.sensor.mqtt is not None and topic.startswith(dec.sensor.mqtt.topic):
                self.raw_tap(t, dec.sensor.id, topic, payload)
            for r in dec.message_in(t, topic, payload):
                self.out.put(r)
