"""Readings from the home's own broker (Zigbee2MQTT, rtl_433, any JSON sensor).

paho-mqtt's network loop (in this source's supervised thread) reconnects with back-off and
this source resubscribes on every connection; with a persistent session the broker keeps
what was published while the link was down. Each message is stamped on arrival and handed
to every sensor decoder whose subscriptions match its topic. A malformed payload is counted
by its parser and logged once per sensor (then at 10, 100, 1000...), never raised.

A QoS 1 message is confirmed to the broker (PUBACK) only when the core loop has processed
its readings and committed what they raised: a ``Processed`` marker follows the readings
on the core loop's queue and acknowledges the message when the loop reaches it. A gateway
killed before that gets the message again from the broker's session when it restarts.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt

from eldergate.gateway.core.clock import Clock
from eldergate.gateway.core.health import LinkHealth
from eldergate.gateway.core.inbox import Inbox, Processed
from eldergate.gateway.core.supervisor import Guard, unguarded
from eldergate.gateway.links.decode import SensorDecoder
from eldergate.gateway.links.mqtt_link import ClientSettings, make_client, run_network

log = logging.getLogger(__name__)

MessageTap = Callable[[float, str, str, bytes], None]


class MqttSource:
    def __init__(self, settings: ClientSettings, decoders: list[SensorDecoder], clock: Clock,
                 out: Inbox, stop: threading.Event, raw_tap: MessageTap | None = None,
                 reconnect: tuple[int, int] = (1, 30), guard: Guard = unguarded) -> None:
        self.settings = settings
        self.decoders = decoders
        self.clock, self.out, self.stop = clock, out, stop
        self.raw_tap = raw_tap
        self.reconnect = reconnect
        self.health = LinkHealth("local_mqtt")
        self.messages = 0
        self._malformed_logged: dict[str, int] = {}
        self._subs = sorted({sub for d in decoders for sub in _subscriptions(d)})
        self.connected = threading.Event()  # set once the subscriptions are acknowledged
        self._pending_suback: int | None = None
        self.client, self._addr, self._props = make_client(settings, manual_ack=True)
        self.client.on_connect = guard("local_mqtt.on_connect", self._on_connect)
        self.client.on_disconnect = guard("local_mqtt.on_disconnect", self._on_disconnect)
        self.client.on_message = guard("local_mqtt.on_message", self._on_message)
        self.client.on_subscribe = guard("local_mqtt.on_subscribe", self._on_subscribe)
        self.client.reconnect_delay_set(*self.reconnect)

    def run(self) -> None:
        """paho's network loop, in this (supervised) thread, until the gateway stops."""
        run_network(self.client, self._addr, self._props, self.settings.keepalive_s, self.stop)

    def _on_connect(self, client: mqtt.Client, _u: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            self.health.last_error = str(reason)
            log.warning("local broker refused the connection: %s (retrying)", reason)
            return
        if self.health.reconnects or self.health.last_error:
            log.info("local broker connected again")
        self.health.connected, self.health.last_error = True, None
        if not self._subs:
            self.connected.set()
            return
        _rc, mid = client.subscribe([(sub, 1) for sub in self._subs])
        self._pending_suback = mid

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, mid: int, reasons: Any, _props: Any) -> None:
        # "connected" means subscribed: a message published before the SUBACK could be missed
        if mid == self._pending_suback:
            refused = [str(r) for r in reasons if getattr(r, "is_failure", False)]
            if refused:
                log.warning("local broker refused subscriptions: %s", ", ".join(refused))
            else:  # a readiness signal: tests and operators see when the detectors are listened to
                log.info("local broker: subscribed to %d topic(s)", len(self._subs))
            self.connected.set()

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _flags: Any, reason: Any, _props: Any) -> None:
        self.connected.clear()
        if self.health.connected:
            log.warning("local broker connection lost: %s (reconnecting)", reason)
        self.health.connected = False
        self.health.reconnects += 1
        self.health.last_error = str(reason)

    def _on_message(self, client: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        t = self.clock.now()
        payload = bytes(msg.payload)
        self.messages += 1
        self.health.last_data = t
        try:
            for dec in self.decoders:
                if not any(mqtt.topic_matches_sub(sub, msg.topic) for sub in _subscriptions(dec)):
                    continue
                if self.raw_tap is not None:
                    self.raw_tap(t, dec.sensor.id, msg.topic, payload)
                for r in dec.message_in(t, msg.topic, payload):
                    self.out.put(r)
                self._log_malformed(dec)
        finally:  # even a message that failed to decode is confirmed in its turn: MQTT acks in order
            if msg.qos > 0:
                self.out.put(Processed(functools.partial(client.ack, msg.mid, msg.qos)))

    def _log_malformed(self, dec: SensorDecoder) -> None:
        n = dec.stats.malformed
        done = self._malformed_logged.get(dec.sensor.id, 0)
        if n > done and (done == 0 or n in (10, 100, 1000) or n % 10_000 == 0):
            error = getattr(dec.message, "last_error", None)
            log.warning("sensor %s: malformed payload ignored (%d so far): %s", dec.sensor.id, n, error)
            self._malformed_logged[dec.sensor.id] = n


def _subscriptions(dec: SensorDecoder) -> list[str]:
    subs = getattr(dec.message, "subscriptions", None)
    return list(subs()) if subs is not None else []
