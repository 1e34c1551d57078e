"""Home Assistant MQTT discovery (device-based), on the home's own broker. Optional.

One retained config on ``<prefix>/device/eldergate_<gateway>/config`` (ecosystem.md A3.1:
``dev``, the required ``o`` origin, and ``cmps`` with a platform ``p`` and a ``unique_id``
each) makes every resident's heart rate, breathing rate, in-bed state and last fall, and the
gateway's health (uplink connected, unsent alerts), appear as entities without any YAML.
State is one retained JSON on ``eldergate/<gateway>/state``; availability is
``eldergate/<gateway>/availability`` (``online``, and ``offline`` as the last will); falls
are MQTT ``event`` entities on ``eldergate/<gateway>/event``. The config is published again
when Home Assistant announces itself (``online`` on ``<prefix>/status``). Entities that
Zigbee2MQTT already announces (doors, gas) are not announced twice.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt

from eldergate.config.schema import Config
from eldergate.gateway.core.alerts import Alert, AlertKind, AlertState
from eldergate.gateway.core.output import Output
from eldergate.gateway.core.supervisor import Guard, unguarded
from eldergate.gateway.core.version import version
from eldergate.gateway.links.mqtt_link import ClientSettings, make_client
from eldergate.signal.model import Event, EventName, Observation

log = logging.getLogger(__name__)


class HomeAssistantBridge:
    def __init__(self, cfg: Config, prefix: str = "homeassistant", health: Callable[[], dict[str, Any]] | None = None,
                 publish_every_s: float = 10.0, guard: Guard = unguarded) -> None:
        self.cfg, self.prefix = cfg, prefix
        self._guard = guard
        gw = cfg.gateway.id
        self.node = f"eldergate_{gw}".replace("-", "_")
        self.base = f"eldergate/{gw}"
        self.health = health or dict
        self.state: dict[str, Any] = {"uplink": "OFF", "unsent_alerts": 0}
        for r in cfg.residents:
            self.state |= {f"{r.id}_heart_rate": None, f"{r.id}_breathing_rate": None, f"{r.id}_in_bed": "OFF",
                           f"{r.id}_last_fall": None}
        self.publish_every_s = publish_every_s
        self._dirty = threading.Event()
        self._client: mqtt.Client | None = None
        self.connected = threading.Event()

    # -- discovery --------------------------------------------------------------------------

    def discovery(self) -> dict[str, Any]:
        cmps: dict[str, dict[str, Any]] = {}
        for r in self.cfg.residents:
            rid = r.id
            cmps[f"{rid}_heart_rate"] = {"p": "sensor", "name": f"{rid} heart rate", "unit_of_measurement": "bpm",
                                          "state_class": "measurement", "icon": "mdi:heart-pulse",
                                          "value_template": f"{{{{ value_json.{rid}_heart_rate }}}}"}
            cmps[f"{rid}_breathing_rate"] = {"p": "sensor", "name": f"{rid} breathing rate",
                                              "unit_of_measurement": "breaths/min", "state_class": "measurement",
                                              "icon": "mdi:lungs",
                                              "value_template": f"{{{{ value_json.{rid}_breathing_rate }}}}"}
            cmps[f"{rid}_in_bed"] = {"p": "binary_sensor", "name": f"{rid} in bed", "device_class": "occupancy",
                                      "value_template": f"{{{{ value_json.{rid}_in_bed }}}}"}
            cmps[f"{rid}_last_fall"] = {"p": "sensor", "name": f"{rid} last fall", "device_class": "timestamp",
                                         "value_template": f"{{{{ value_json.{rid}_last_fall }}}}"}
            cmps[f"{rid}_fall"] = {"p": "event", "name": f"{rid} fall", "state_topic": f"{self.base}/event",
                                    "event_types": ["fall_detected", "fall_confirmed", "fall_cancelled"]}
        cmps["uplink"] = {"p": "binary_sensor", "name": "community uplink", "device_class": "connectivity",
                          "entity_category": "diagnostic", "value_template": "{{ value_json.uplink }}"}
        cmps["unsent_alerts"] = {"p": "sensor", "name": "unsent alerts", "entity_category": "diagnostic",
                                 "state_class": "measurement", "value_template": "{{ value_json.unsent_alerts }}"}
        for sensor in self.cfg.sensors:  # each sensor's health (core/health.py): ok, silent, disconnected...
            cmps[f"sensor_{sensor.id}"] = {"p": "sensor", "name": f"{sensor.id} health",
                                           "entity_category": "diagnostic",
                                           "value_template": f"{{{{ value_json['sensor_{sensor.id}'] }}}}"}
        for key, c in cmps.items():
            c["unique_id"] = f"{self.node}_{key}"
        return {
            "dev": {"ids": [self.node], "name": f"eldergate {self.cfg.gateway.id}", "mf": "eldergate",
                    "mdl": "edge gateway", "sw": version()},
            "o": {"name": "eldergate", "sw": version(), "url": "https://eldergate.invalid"},
            "state_topic": f"{self.base}/state",
            "availability_topic": f"{self.base}/availability",
            "qos": 1,
            "cmps": cmps,
        }

    # -- sink ---------------------------------------------------------------------------------

    def emit(self, item: Output) -> None:
        if isinstance(item, Observation) and item.name in ("heart_rate_bpm", "breathing_rate_bpm"):
            key = f"{item.resident}_{'heart_rate' if item.name == 'heart_rate_bpm' else 'breathing_rate'}"
            self.state[key] = None if item.value is None else round(float(item.value), 1)
        elif isinstance(item, Event):
            if item.name in (EventName.BED_ENTRY, EventName.BED_RETURN, EventName.BED_EXIT):
                self.state[f"{item.resident}_in_bed"] = "OFF" if item.name == EventName.BED_EXIT else "ON"
                self._dirty.set()
            elif item.name in (EventName.POSSIBLE_FALL, EventName.FALL, EventName.FALL_CANCELLED):
                kind = {EventName.POSSIBLE_FALL: "fall_detected", EventName.FALL: "fall_confirmed",
                        EventName.FALL_CANCELLED: "fall_cancelled"}[item.name]
                self._publish(f"{self.base}/event", {"event_type": kind, "resident": item.resident,
                                                     "room": item.room}, retain=False)
        elif isinstance(item, Alert) and item.kind == AlertKind.FALL and item.state == AlertState.RAISED:
            self.state[f"{item.resident}_last_fall"] = time.strftime("%Y-%m-%dT%H:%M:%S%z",
                                                                      time.localtime(item.raised_at))
            self._dirty.set()

    def close(self) -> None:
        pass

    # -- the connection -------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        lm = self.cfg.local_mqtt
        client, addr, props = make_client(ClientSettings(lm.url, f"{self.node}_ha", lm.protocol, lm.credentials_file))
        self._client = client
        client.will_set(f"{self.base}/availability", "offline", qos=1, retain=True)
        client.on_connect = self._guard("home_assistant.on_connect", lambda c, *_: self._on_connect(c))
        client.on_message = self._guard("home_assistant.on_message", self._on_message)
        kwargs: dict[str, Any] = {"properties": props} if props is not None else {}
        client.connect_async(addr.host, addr.port, 30, **kwargs)
        client.loop_start()
        try:
            while not stop.wait(0.5):
                if self.connected.is_set() and (self._dirty.is_set() or self._due()):
                    self._dirty.clear()
                    self._last = time.monotonic()
                    self.state |= self.health()
                    self._publish(f"{self.base}/state", self.state)
        finally:
            if self.connected.is_set():
                client.publish(f"{self.base}/availability", "offline", qos=1, retain=True).wait_for_publish(2)
            client.disconnect()
            client.loop_stop()

    _last = 0.0

    def _due(self) -> bool:
        return time.monotonic() - self._last >= self.publish_every_s

    def _on_connect(self, client: mqtt.Client) -> None:
        client.subscribe(f"{self.prefix}/status", qos=1)
        self._announce()
        self.connected.set()
        self._dirty.set()

    def _announce(self) -> None:
        self._publish(f"{self.prefix}/device/{self.node}/config", self.discovery())
        self._publish(f"{self.base}/availability", "online")

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.topic == f"{self.prefix}/status" and msg.payload == b"online":
            log.info("Home Assistant is (back) online: discovery published again")
            self._announce()
            self._dirty.set()

    def _publish(self, topic: str, payload: Any, retain: bool = True) -> None:
        if self._client is None:
            return
        body = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
        self._client.publish(topic, body, qos=1, retain=retain)
