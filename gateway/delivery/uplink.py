"""The community uplink: the outbox drained to the server's broker over MQTT.

* MQTT v5 with a persistent session and an expiry interval (3.1.1 works too), QoS 1,
  TLS with a CA and a per-gateway client certificate, or a username and password file.
* A retained ``status`` ("online"), with a last will that says "offline"; a heartbeat
  republishes it with the number of unsent alerts.
* Alerts first: every alert message in the outbox is (re)sent until the server answers on
  ``ack`` with a receipt for that id and state; then the telemetry lane. Resends back off
  (2 s, 4 s, 8 s... up to ``resend_after``) with ±25 % jitter, so that thousands of boxes
  do not resend in step; on every (re)connection, and whenever the server announces itself
  online (``<prefix>/_server/status``, retained), everything unconfirmed is due at once.
* ``ack`` from the server: a receipt removes the message from the outbox; a person's
  acknowledgement goes to the core loop (it stops escalation), which confirms it on
  ``acked`` once it is applied and stored; the server resends it until then. ``cmd``:
  status, a test alert, an acknowledgement.
* paho's network loop runs in a supervised thread and every callback is guarded: an
  exception is logged and counted, never the silent end of the link.
* Refused credentials or a broker ACL that says "not authorized" are logged clearly, once,
  and retried slowly; they never stop the gateway.
"""

from __future__ import annotations

import json
import logging
import math
import random
import threading
import time
from collections.abc import Callable
from typing import Any, get_args

import paho.mqtt.client as mqtt
from pydantic import BaseModel, ValidationError

from eldergate.config.schema import Config
from eldergate.contract.bounds import MAX_DETAILS_BYTES, MAX_EVIDENCE_BYTES, MAX_FIGURES_BYTES, clean_bag
from eldergate.contract.desired_config import ConfigMessage
from eldergate.contract.messages import (
    AckAppliedMessage,
    AckMessage,
    AlertMessage,
    CommandMessage,
    ContactRole,
    EventMessage,
    ServerStatusMessage,
    StatusMessage,
    SummaryMessage,
    VitalsMessage,
    server_status_topic,
    topic,
)
from eldergate.gateway.core.alerts import Alert
from eldergate.gateway.core.inbox import Inbox
from eldergate.gateway.core.output import Output
from eldergate.gateway.core.supervisor import Guard, unguarded
from eldergate.gateway.core.texts import alert_name
from eldergate.gateway.core.version import version
from eldergate.gateway.delivery.desired_config import ConfigState
from eldergate.gateway.delivery.outbox import Outbox
from eldergate.gateway.links.mqtt_link import ClientSettings, fail_over, make_client, run_network
from eldergate.signal.model import Event, Observation
from eldergate.signal.summary import DailySummary

log = logging.getLogger(__name__)
_ROLES = frozenset(get_args(ContactRole))
_UPDATE_STATES = frozenset(get_args(StatusMessage.model_fields["update_state"].annotation))
STARTED_AT = time.time()  # this process's start: the server sees a restart in the status

RESEND_AFTER_S = 30.0  # the longest wait before an alert message without a receipt is sent again
RESEND_FIRST_S = 2.0  # the first resend; each further one waits twice as long, up to resend_after
AUTH_RETRY = (60, 600)  # seconds: slow retries when the broker refuses who we are
# A live "online" from the server makes every box resend what is unconfirmed. Spread over this
# many seconds, and at most once per SERVER_BACK_EVERY_S, so that neither a real restart nor a
# forged "online" (a stolen credential) brings ten thousand boxes back in the same second.
SERVER_BACK_SPREAD_S = 10.0
UPLINK_SUBSCRIBED = "community broker: subscribed (receipts, commands, configuration)"
SERVER_BACK_EVERY_S = 60.0


def resend_delay(attempts: int, resend_after_s: float, rng: random.Random) -> float:
    """Seconds until the next resend of a message already sent ``attempts`` times since the link
    came up: doubling from RESEND_FIRST_S to resend_after_s, ±25 % so boxes drift apart."""
    base = min(resend_after_s, RESEND_FIRST_S * 2.0 ** min(attempts, 16))
    return base * rng.uniform(0.75, 1.25)


def alert_message(a: Alert, site: str, gateway: str, now: float, handover_s: float | None = None) -> AlertMessage:
    """``handover_s``: the box pages this alert's contacts itself when it has no receipt by then."""
    return AlertMessage(
        site=site, gateway=gateway, sent_at=now, id=a.id, kind=str(a.kind), severity=a.severity.value,
        state=a.state.value, resident=a.resident, room=_label(a.room), sensor=_label(a.sensor), started=a.started,
        raised_at=a.raised_at, resolved_at=a.resolved_at, acknowledged_by=a.acknowledged_by,
        evidence=clean_bag(a.evidence, MAX_EVIDENCE_BYTES), title_zh=alert_name(a.kind, "zh-hans"),
        title_en=alert_name(a.kind, "en"), paged=[r for r in a.paged if r in _ROLES], handover_s=handover_s,
    )


def _label(text: str, limit: int = 64) -> str:
    """A room or sensor name as the contract takes it: printable, 64 characters at most."""
    return "".join(c for c in text if c.isprintable())[:limit]


def _finite(value: float | None) -> float | None:
    """An event's value as the contract takes it: a finite number within its range, or none."""
    return value if value is not None and math.isfinite(value) and abs(value) <= 1e9 else None


class CommunitySink:
    """Outputs to contract messages in the outbox's telemetry lane (alerts go by the outbox itself)."""

    def __init__(self, cfg: Config, outbox: Outbox, vitals_every_s: float = 10.0) -> None:
        self.site, self.gw = cfg.gateway.site, cfg.gateway.id
        self.outbox = outbox
        self.vitals_every_s = vitals_every_s
        self._last_vitals: dict[str, float] = {}
        self._hr: dict[str, tuple[float | None, float | None]] = {}
        self._refused: dict[str, int] = {}  # outputs the contract could not carry, per kind

    def emit(self, item: Output) -> None:
        """Never raises: an output the contract cannot carry is logged once per kind and dropped
        (the home's own logic has it already; only the server's copy is lost)."""
        try:
            self._emit(item)
        except ValidationError as err:
            kind = type(item).__name__
            if kind not in self._refused:
                log.error("a %s the contract cannot carry was not sent to the community server: %s (further ones "
                          "are only counted)", kind, str(err).splitlines()[1:3])
            self._refused[kind] = self._refused.get(kind, 0) + 1

    def _emit(self, item: Output) -> None:
        now = time.time()
        if isinstance(item, Event):
            msg: BaseModel = EventMessage(site=self.site, gateway=self.gw, sent_at=now, t=item.t, name=str(item.name),
                                          resident=item.resident, room=_label(item.room), sensor=_label(item.sensor),
                                          value=_finite(item.value),
                                          details=clean_bag(dict(item.details), MAX_DETAILS_BYTES))
            self.outbox.put_lane("events", msg.model_dump())
        elif isinstance(item, DailySummary):
            figures = {k: v for k, v in item.to_json().items() if k not in ("t", "record", "name", "value", "sensor")}
            msg = SummaryMessage(site=self.site, gateway=self.gw, sent_at=now, resident=item.resident,
                                 period_start=item.period_start, period_end=item.period_end,
                                 figures=clean_bag(figures, MAX_FIGURES_BYTES))
            self.outbox.put_lane("summary", msg.model_dump())
        elif isinstance(item, Observation) and item.name in ("heart_rate_bpm", "breathing_rate_bpm"):
            self._vitals(item)

    def _vitals(self, o: Observation) -> None:
        hr, br = self._hr.get(o.resident, (None, None))
        value = float(o.value) if isinstance(o.value, int | float) and not isinstance(o.value, bool) else None
        self._hr[o.resident] = (value, br) if o.name == "heart_rate_bpm" else (hr, value)
        if o.name != "breathing_rate_bpm" or o.t - self._last_vitals.get(o.resident, -1e18) < self.vitals_every_s:
            return
        self._last_vitals[o.resident] = o.t
        hr, br = self._hr[o.resident]
        msg = VitalsMessage(site=self.site, gateway=self.gw, sent_at=time.time(), t=o.t, resident=o.resident,
                            heart_rate_bpm=hr, breathing_rate_bpm=br,
                            quality=None if o.quality is None else min(1.0, max(0.0, o.quality)))
        self.outbox.put_lane("vitals", msg.model_dump())

    def close(self) -> None:
        pass


class Uplink:
    def __init__(self, cfg: Config, outbox: Outbox, stop: threading.Event, inbox: Inbox,
                 status: Callable[[], dict[str, str]] | None = None,
                 resend_after_s: float = RESEND_AFTER_S, clock_trusted: Callable[[], bool] | None = None,
                 guard: Guard = unguarded, rng: random.Random | None = None,
                 config_state: ConfigState | None = None,
                 update_state: Callable[[], tuple[str, str, str]] | None = None) -> None:
        assert cfg.uplink is not None
        self.cfg, self.up = cfg, cfg.uplink
        self.outbox, self.stop, self.inbox = outbox, stop, inbox
        self.sensor_status = status or dict
        self.config = config_state or ConfigState()  # the server's configuration, as the status reports it
        self.update_state = update_state or (lambda: ("", "", ""))  # the last software update (updates.py)
        self.resend_after_s = resend_after_s
        self.clock_trusted = clock_trusted or (lambda: True)
        self.rng = rng or random.Random()
        site, gw = cfg.gateway.site, cfg.gateway.id
        self.topics = {leaf: topic(self.up.topic_prefix, site, gw, leaf)
                       for leaf in ("alerts", "events", "vitals", "summary", "status", "ack", "cmd", "acked", "config")}
        self.server_topic = server_status_topic(self.up.topic_prefix)
        self.connected = threading.Event()
        self.last_error: str | None = None
        self.refused: str | None = None  # the broker's last "not authorized" / bad credentials
        self.sent_alerts = 0
        self.server_online: bool | None = None  # what the server last announced, None before it spoke
        self._inflight: dict[int, tuple[str, int]] = {}  # mid -> (kind, outbox seq)
        self._lock = threading.Lock()
        self._sender_done = threading.Event()
        self._server_back_at = -1e18  # monotonic time of the last resend-all the server's "online" caused
        settings = ClientSettings(self.up.broker_url, f"eldergate-{self.cfg.gateway.site}-{self.cfg.gateway.id}",
                                  self.up.protocol, self.up.credentials_file, self.up.ca_file, self.up.cert_file,
                                  self.up.key_file, int(self.up.session_expiry))
        self._client, self._addr, self._props = make_client(settings)
        self._client.will_set(self.topics["status"], self._status("offline").model_dump_json(), qos=1, retain=True)
        self._client.on_connect = guard("uplink.on_connect", self._on_connect)
        self._client.on_disconnect = guard("uplink.on_disconnect", self._on_disconnect)
        self._client.on_message = guard("uplink.on_message", self._on_message)
        self._client.on_publish = guard("uplink.on_publish", self._on_publish)
        # jittered per box: after a broker restart thousands of gateways must not come back in step
        self._reconnect = (self.rng.randint(1, 3), self.rng.randint(20, 40))
        self._client.reconnect_delay_set(*self._reconnect)
        fail_over(self._client, [self.up.broker_url, *self.up.fallback_urls])
        self._client.on_subscribe = guard("uplink.on_subscribe", self._on_subscribe)

    # -- the loops ----------------------------------------------------------------------------

    def run_network(self) -> None:
        """paho's network loop, in a supervised thread; it lingers for the sender's last word."""
        run_network(self._client, self._addr, self._props, 30, self.stop, before_disconnect=self._sender_done)

    def run(self) -> None:
        """The sender: alerts first, then the telemetry lane, and the status heartbeat."""
        next_heartbeat = 0.0
        self._sender_done.clear()
        try:
            while not self.stop.is_set():
                self.outbox.changed.wait(1.0)
                self.outbox.changed.clear()
                if not self.connected.is_set():
                    continue
                self._send_alerts()
                self._send_lane()
                if time.monotonic() >= next_heartbeat:
                    self._publish_status("online")
                    next_heartbeat = time.monotonic() + self.up.heartbeat
        finally:
            if self.stop.is_set() and self.connected.is_set():  # a clean stop says so; a crash: the last will
                self._publish_status("offline").wait_for_publish(2)
            self._sender_done.set()

    def confirm_ack(self, alert_id: str, by: str | None, state: str | None) -> None:
        """Tell the server its acknowledgement is applied and stored (it resends until then)."""
        msg = AckAppliedMessage(site=self.cfg.gateway.site, gateway=self.cfg.gateway.id, sent_at=time.time(),
                                alert_id=alert_id, by=by, state=state)
        self._client.publish(self.topics["acked"], msg.model_dump_json(), qos=1)

    def _send_alerts(self) -> None:
        now = time.time()
        for p in self.outbox.pending_alerts(now):
            msg = alert_message(p.alert, self.cfg.gateway.site, self.cfg.gateway.id, now, self._handover(p.alert))
            info = self._client.publish(self.topics["alerts"], msg.model_dump_json(), qos=1)
            with self._lock:
                self._inflight[info.mid] = ("alert", p.seq)
            self.outbox.mark_sent(p.seq, resend_delay(p.attempts, self.resend_after_s, self.rng), now)
            self.sent_alerts += 1

    def _handover(self, a: Alert) -> float | None:
        """When the box's notifier pages this alert itself if unreceipted (notify.py), else None."""
        n = self.cfg.notifications
        pages = n.enabled and any(r.contacts for r in self.cfg.residents if r.id == a.resident)
        return n.handover_after if pages else None

    def _send_lane(self) -> None:
        if self.outbox.pending_alerts():
            return  # alerts first, always
        batch = self.outbox.lane_batch(200)
        for item in batch:
            qos = 0 if item.leaf == "vitals" else 1
            info = self._client.publish(self.topics[item.leaf], json.dumps(item.body, ensure_ascii=False), qos=qos)
            if qos == 0:
                self.outbox.lane_done([item.seq])
            else:
                with self._lock:
                    self._inflight[info.mid] = ("lane", item.seq)
        if len(batch) == 200:
            self.outbox.changed.set()

    def _status(self, state: str) -> StatusMessage:
        update_version, update_state, update_reason = self.update_state()
        return StatusMessage(site=self.cfg.gateway.site, gateway=self.cfg.gateway.id, sent_at=time.time(),
                             state="online" if state == "online" else "offline", version=version(),
                             unsent_alerts=self.outbox.unsent_count(), sensors=self.sensor_status(),
                             clock_trusted=self.clock_trusted(), config_version=self.config.version,
                             config_refused_version=self.config.refused_version, config_refused=self.config.refused,
                             started_at=STARTED_AT, update_version=update_version,
                             update_state=update_state if update_state in _UPDATE_STATES else "",
                             update_reason=_label(update_reason, 300))

    def status_now(self) -> None:
        """Publish the status at once (a refused configuration is reported without waiting)."""
        if self.connected.is_set():
            self._publish_status("online")

    def _publish_status(self, state: str) -> mqtt.MQTTMessageInfo:
        return self._client.publish(self.topics["status"], self._status(state).model_dump_json(), qos=1, retain=True)

    # -- callbacks (paho's network thread) ------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            text = str(reason)
            if text != self.refused:
                log.error("community broker refused the connection: %s — check the gateway's credentials or "
                          "certificate (retrying every %d–%d s)", text, *AUTH_RETRY)
            self.refused = text
            client.reconnect_delay_set(*AUTH_RETRY)
            return
        if self.refused:
            log.info("community broker accepts the gateway again")
        self.refused = None
        client.reconnect_delay_set(*self._reconnect)
        self._subscribe(client)
        log.info("community uplink connected (%s)", self.up.protocol)
        self.connected.set()
        self.outbox.all_due()  # whatever was in flight may have died with the broker: send it all now

    def _subscribe(self, client: mqtt.Client) -> None:
        q = int(self.up.subscribe_qos)
        client.subscribe([(self.topics["ack"], q), (self.topics["cmd"], q), (self.topics["config"], q),
                          (self.server_topic, q)])

    def _on_subscribe(self, client: mqtt.Client, _u: Any, _mid: int, codes: Any, _p: Any) -> None:
        """A refused subscription (a busy NATS cluster times out creating its consumer) is asked
        again, later and jittered: without it no receipt would ever arrive."""
        if any(getattr(c, "is_failure", False) for c in codes):
            log.warning("the community broker refused a subscription; asking again shortly")
            timer = threading.Timer(self.rng.uniform(1.0, 5.0),
                                    lambda: self._subscribe(client) if client.is_connected() else None)
            timer.daemon = True
            timer.start()
        else:
            log.info(UPLINK_SUBSCRIBED)

    def _server_back(self) -> None:
        now = time.monotonic()
        if now - self._server_back_at < SERVER_BACK_EVERY_S:
            return
        self._server_back_at = now
        delay = self.rng.uniform(0.0, SERVER_BACK_SPREAD_S)
        log.info("the community server is back: resending every unconfirmed alert in %.1f s", delay)
        timer = threading.Timer(delay, lambda: None if self.stop.is_set() else self.outbox.all_due())
        timer.daemon = True
        timer.start()

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if self.connected.is_set():
            log.warning("community uplink lost: %s; alerts wait in the outbox", reason)
        self.connected.clear()
        self.last_error = str(reason)

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, reason: Any, _p: Any) -> None:
        with self._lock:
            kind, seq = self._inflight.pop(mid, ("", -1))
        if getattr(reason, "is_failure", False):
            text = str(reason)
            if text != self.refused:
                log.error("community broker refused a %s publish: %s — is this gateway's certificate its own, "
                          "and does the broker's ACL allow %s?", kind or "message", text, self.topics["alerts"])
            self.refused = text
            return
        if kind == "lane":
            self.outbox.lane_done([seq])

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            if msg.topic == self.server_topic:
                online = ServerStatusMessage.model_validate_json(msg.payload).state == "online"
                # a live "online" (not the retained copy every (re)subscription brings, which the
                # connection itself already answered): the server has just subscribed again
                if online and not msg.retain:
                    self._server_back()
                self.server_online = online
            elif msg.topic == self.topics["ack"]:
                ack = AckMessage.model_validate_json(msg.payload)
                if ack.kind == "received":
                    if ack.state is None:  # the server always names the state it stored; "all of them"
                        log.warning("ignored a receipt for %s that names no state", ack.alert_id)  # is a forgery
                        return
                    self.outbox.received(ack.alert_id, ack.state, ack.paged)
                self.inbox.put(ack)
            elif msg.topic == self.topics["config"]:
                desired = ConfigMessage.model_validate_json(msg.payload)
                if (desired.site, desired.gateway) == (self.cfg.gateway.site, self.cfg.gateway.id):
                    self.inbox.put(desired)  # checked and applied in the core loop
            elif msg.topic == self.topics["cmd"]:
                cmd = CommandMessage.model_validate_json(msg.payload)
                if cmd.command == "status" and self._client is not None:
                    self._publish_status("online")
                self.inbox.put(cmd)
        except ValidationError as err:
            log.warning("ignored a malformed message from the server on %s: %s", msg.topic,
                        err.errors(include_url=False)[0]["msg"])
