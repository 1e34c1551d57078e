"""A reference receiver for the community side: ``eldergate console --broker URL``.

It subscribes to every gateway under ``eldergate/v1/``, confirms the receipt of each alert
message (which lets the gateway's outbox let it go), keeps a live list of homes with each
resident's latest state and open alerts, and lets a grid worker acknowledge an alert.
Enough to run a small community, and to test the contract end to end.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from pydantic import ValidationError

from eldergate.gateway.contract import AckMessage, AlertMessage, StatusMessage, VitalsMessage
from eldergate.gateway.mqtt_link import ClientSettings, make_client

log = logging.getLogger(__name__)


@dataclass
class HomeView:
    site: str
    gateway: str
    status: str = "unknown"
    unsent: int = 0
    alerts: dict[str, AlertMessage] = field(default_factory=dict)  # id -> latest state
    vitals: dict[str, VitalsMessage] = field(default_factory=dict)  # resident -> latest
    last_event: str = ""

    def open_alerts(self) -> list[AlertMessage]:
        return [a for a in self.alerts.values() if a.state not in ("resolved",)]


class CommunityReceiver:
    def __init__(self, settings: ClientSettings, prefix: str = "eldergate/v1",
                 on_change: Callable[[str, HomeView, Any], None] | None = None, receipts: bool = True) -> None:
        self.settings, self.prefix = settings, prefix
        self.on_change = on_change
        self.receipts = receipts
        self.homes: dict[tuple[str, str], HomeView] = {}
        self.seen: set[tuple[str, str]] = set()  # (alert id, state): what arrived, after deduplication
        self.duplicates = 0
        self.connected = threading.Event()
        self._lock = threading.Lock()
        self._client: mqtt.Client | None = None

    def start(self) -> None:
        client, addr, props = make_client(self.settings)
        self._client = client
        client.on_connect = lambda c, *_: (c.subscribe(f"{self.prefix}/+/+/#", qos=1), None)[1]
        client.on_subscribe = lambda *_: self.connected.set()
        client.on_message = self._on_message
        kwargs: dict[str, Any] = {"clean_start": False, "properties": props} if props is not None else {}
        client.connect_async(addr.host, addr.port, 30, **kwargs)
        client.loop_start()

    def stop(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()

    def acknowledge(self, site: str, gateway: str, alert_id: str, by: str) -> None:
        self._send_ack(site, gateway, AckMessage(alert_id=alert_id, kind="acknowledged", by=by))

    def _send_ack(self, site: str, gateway: str, ack: AckMessage) -> None:
        assert self._client is not None
        self._client.publish(f"{self.prefix}/{site}/{gateway}/ack", ack.model_dump_json(), qos=1)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        parts = msg.topic.split("/")
        if len(parts) < 5:
            return
        site, gw, leaf = parts[-3], parts[-2], parts[-1]
        try:
            with self._lock:
                home = self.homes.setdefault((site, gw), HomeView(site, gw))
                item = self._apply(home, leaf, bytes(msg.payload))
        except (ValidationError, ValueError) as err:
            log.warning("ignored a malformed %s message from %s/%s: %s", leaf, site, gw, str(err)[:120])
            return
        if item is not None and self.on_change is not None:
            self.on_change(leaf, home, item)

    def _apply(self, home: HomeView, leaf: str, payload: bytes) -> Any:
        if leaf == "alerts":
            a = AlertMessage.model_validate_json(payload)
            if self.receipts:
                self._send_ack(home.site, home.gateway, AckMessage(alert_id=a.id, kind="received", state=a.state))
            key = (a.id, a.state)
            if key in self.seen:
                self.duplicates += 1  # a resend whose receipt was lost: already known
                return None
            self.seen.add(key)
            home.alerts[a.id] = a
            return a
        if leaf == "status":
            s = StatusMessage.model_validate_json(payload)
            home.status, home.unsent = s.state, s.unsent_alerts
            return s
        if leaf == "vitals":
            v = VitalsMessage.model_validate_json(payload)
            home.vitals[v.resident] = v
            return v
        if leaf == "events":
            home.last_event = str(json.loads(payload).get("name", ""))
            return home.last_event
        return None

    def alert_ids(self) -> set[str]:
        with self._lock:
            return {aid for aid, _state in self.seen}


def render(homes: dict[tuple[str, str], HomeView]) -> str:
    lines = []
    for (site, gw), h in sorted(homes.items()):
        vit = ", ".join(f"{r}: ♥{v.heart_rate_bpm or '-'} breath {v.breathing_rate_bpm or '-'}"
                        for r, v in h.vitals.items() if v)
        lines.append(f"{site}/{gw} [{h.status}] unsent {h.unsent} {vit} last event: {h.last_event or '-'}")
        for a in h.open_alerts():
            lines.append(f"   ⚠ {a.severity:<8} {a.title_zh} ({a.title_en}) {a.resident}/{a.room} "
                         f"{a.state} id {a.id}")
    return "\n".join(lines) or "(no gateways yet)"
