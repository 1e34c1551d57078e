"""A test double of the community side, in memory, for the gateway's own tests and benches.

The product's community server is ``eldergate community serve`` (community/): durable, and it
receipts only after the commit. This double keeps the contract's shape with none of that:

It subscribes to what every gateway under ``eldergate/v1/`` sends (never its own receipts
back), confirms the receipt of each alert message (which lets the gateway's outbox let it
go), keeps a live list of homes with each resident's latest state and open alerts, and
lets a grid worker acknowledge an alert: the acknowledgement is resent, backing off, until
the gateway confirms it on ``acked``. It announces itself on the retained server status
topic (last will: offline), so gateways resend what is unconfirmed when it comes back.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from pydantic import ValidationError

from eldergate.contract.messages import (
    GATEWAY_LEAVES,
    AckAppliedMessage,
    AckMessage,
    AlertMessage,
    ServerStatusMessage,
    StatusMessage,
    VitalsMessage,
    server_status_topic,
)
from eldergate.gateway.links.mqtt_link import ClientSettings, make_client

log = logging.getLogger(__name__)
ACK_RESEND = (1.0, 30.0)  # seconds: first resend of an unconfirmed acknowledgement, and the longest wait


@dataclass
class PendingAck:
    site: str
    gateway: str
    ack: AckMessage
    next_at: float
    wait_s: float = ACK_RESEND[0]
    sent: int = 1


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
        self.pending_acks: dict[str, PendingAck] = {}  # alert id -> an acknowledgement not yet confirmed
        self.confirmed_acks: set[str] = set()
        self.ack_resends = 0
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._client: mqtt.Client | None = None

    def start(self) -> None:
        client, addr, props = make_client(self.settings)
        self._client = client
        presence = server_status_topic(self.prefix)
        client.will_set(presence, ServerStatusMessage(state="offline", sent_at=time.time()).model_dump_json(),
                        qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_subscribe = lambda *_: self._announce(presence)
        client.on_message = self._on_message
        kwargs: dict[str, Any] = {"clean_start": False, "properties": props} if props is not None else {}
        client.connect_async(addr.host, addr.port, 30, **kwargs)
        client.loop_start()
        threading.Thread(target=self._resend_acks, name="eg-ack-resend", daemon=True).start()

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        self.connected.clear()
        client.subscribe([(f"{self.prefix}/+/+/{leaf}", 1) for leaf in GATEWAY_LEAVES])

    def _announce(self, presence: str) -> None:
        """Subscribed: only now can the gateways' resends reach us, so only now say "online"."""
        assert self._client is not None
        self._client.publish(presence, ServerStatusMessage(state="online", sent_at=time.time()).model_dump_json(),
                             qos=1, retain=True)
        self.connected.set()

    def stop(self) -> None:
        self._stop.set()
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()

    def acknowledge(self, site: str, gateway: str, alert_id: str, by: str) -> mqtt.MQTTMessageInfo:
        """Send it (and resend it until confirmed); the first send's info says when the broker has it."""
        ack = AckMessage(alert_id=alert_id, kind="acknowledged", by=by)
        with self._lock:
            self.pending_acks[alert_id] = PendingAck(site, gateway, ack, time.monotonic() + ACK_RESEND[0])
        return self._send_ack(site, gateway, ack)

    def _resend_acks(self) -> None:
        """Acknowledgements are resent, backing off, until the gateway confirms them."""
        while not self._stop.wait(0.2):
            now = time.monotonic()
            with self._lock:
                due = [p for p in self.pending_acks.values() if p.next_at <= now]
                for p in due:
                    p.wait_s = min(p.wait_s * 2, ACK_RESEND[1])
                    p.next_at, p.sent = now + p.wait_s, p.sent + 1
            for p in due:
                self.ack_resends += 1
                self._send_ack(p.site, p.gateway, p.ack)

    def _send_ack(self, site: str, gateway: str, ack: AckMessage) -> mqtt.MQTTMessageInfo:
        assert self._client is not None
        return self._client.publish(f"{self.prefix}/{site}/{gateway}/ack", ack.model_dump_json(), qos=1)

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
        if leaf == "acked":
            done = AckAppliedMessage.model_validate_json(payload)
            if self.pending_acks.pop(done.alert_id, None) is not None:
                self.confirmed_acks.add(done.alert_id)
            known = home.alerts.get(done.alert_id)
            if known is None or done.state != "acknowledged" or known.state == "acknowledged":
                return None
            # the box's word that it applied the acknowledgement is its acknowledged state
            home.alerts[done.alert_id] = known.model_copy(update={"state": "acknowledged", "acknowledged_by": done.by})
            return home.alerts[done.alert_id]
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
