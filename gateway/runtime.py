"""The live gateway: drivers in threads, one core loop, sinks.

Drivers put stamped readings on one queue; the core loop takes them in arrival order
(which is time order, since they are stamped on arrival), feeds the home's pipeline and
hands every output to the sinks. Timers tick at least twice a second even when no
reading arrives. ``stop()`` (SIGTERM, SIGINT) ends the loop; everything accepted is
stored before ``run()`` returns.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import queue
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from eldergate.config.preflight import preflight
from eldergate.config.schema import Config
from eldergate.contract.desired_config import ConfigMessage
from eldergate.contract.messages import AckMessage, CommandMessage
from eldergate.drivers.protocols import protocol
from eldergate.drivers.readings import Reading
from eldergate.gateway.core.alerts import Alert
from eldergate.gateway.core.clock import TRUSTED_AFTER, Clock, SteadyClock
from eldergate.gateway.core.health import GarbageWatch, LinkHealth, SensorHealth, sensor_health
from eldergate.gateway.core.home import Home
from eldergate.gateway.core.inbox import Inbox, Processed
from eldergate.gateway.core.output import Output
from eldergate.gateway.core.sdnotify import SystemdNotifier, Watchdog, watchdog_interval
from eldergate.gateway.core.sinks import Fanout, Sink
from eldergate.gateway.core.supervisor import Supervisor
from eldergate.gateway.core.version import version
from eldergate.gateway.delivery.annunciator import Annunciator
from eldergate.gateway.delivery.claim import Claimer
from eldergate.gateway.delivery.desired_config import DesiredConfig
from eldergate.gateway.delivery.diagnostic_capture import CaptureSender
from eldergate.gateway.delivery.notify import Notifier, Send, apprise_send
from eldergate.gateway.delivery.outbox import Outbox
from eldergate.gateway.delivery.updates import Updater
from eldergate.gateway.delivery.uplink import STARTED_AT, CommunitySink, Uplink
from eldergate.gateway.links.decode import SensorDecoder, decoders_for
from eldergate.gateway.links.mqtt_link import ClientSettings
from eldergate.gateway.links.mqtt_source import MqttSource
from eldergate.gateway.links.recent_capture import RecentCapture
from eldergate.gateway.links.ti_cli import send_chirp_config
from eldergate.gateway.links.transports import MessageBus, RawTap, SerialTransport
from eldergate.gateway.local.homeassistant import HomeAssistantBridge
from eldergate.gateway.local.status_page import StatusModel, StatusPage
from eldergate.gateway.local.telemetry import Spool, TelemetrySink, TelemetryWriter, process_metrics
from eldergate.signal.model import Event, EventName
from eldergate.signal.summary import DailySummary

log = logging.getLogger(__name__)

QUEUE_LIMIT = 50_000  # readings; a full queue makes the drivers wait (bounded memory)
USUAL_HEART_KEPT_S = 7 * 86_400.0  # a resting rate older than a week is no longer "usual" after a restart
OUTINGS_KEPT_S = 30 * 86_400.0  # the outings the usual length is learned from after a restart


class Gateway:
    def __init__(self, cfg: Config, sinks: list[Sink], clock: Clock | None = None,
                 store: Outbox | None = None, raw_tap: RawTap | None = None,
                 tick_s: float = 0.5, mqtt: bool = True, send: Send = apprise_send,
                 health_window_s: float = 10.0, desired: DesiredConfig | None = None,
                 state_dir: Path | None = None) -> None:
        self.cfg = cfg
        self.desired = desired  # the server's configuration, when the box runs from a TOML file
        self.restart_requested = False
        self.clock = clock or SteadyClock()
        self.stop_event = threading.Event()
        self.queue: Inbox = queue.Queue(maxsize=QUEUE_LIMIT)
        self.store = store
        uplinked = store is not None and cfg.uplink is not None and cfg.uplink.enabled
        community: list[Sink] = [CommunitySink(cfg, store, cfg.telemetry.vitals_every)] if uplinked and store else []
        self.annunciator = Annunciator(cfg.notifications.annunciator_command)
        self.supervisor = Supervisor(self.stop_event)
        self.notifier: Notifier | None = Notifier(cfg, send, guard=self.supervisor.guard) if (
            cfg.notifications.enabled and any(r.contacts for r in cfg.residents)) else None
        self.telemetry: TelemetrySink | None = None
        self.telemetry_writer: TelemetryWriter | None = None
        extra: list[Sink] = []
        if cfg.telemetry.enabled:
            spool = Spool(cfg.gateway.state_dir / "telemetry.db", cfg.telemetry.spool_max_points)
            self.telemetry = TelemetrySink(cfg, spool)
            extra.append(self.telemetry)
        self.ha: HomeAssistantBridge | None = None
        if cfg.home_assistant.enabled:
            self.ha = HomeAssistantBridge(cfg, cfg.home_assistant.discovery_prefix, health=self._ha_health,
                                          guard=self.supervisor.guard)
            extra.append(self.ha)
        self.status_model: StatusModel | None = None
        self.status_page: StatusPage | None = None
        if cfg.status_page.enabled:
            self.status_model = StatusModel(cfg, self.metrics, self.sensor_health, self.clock.now)
            extra.append(self.status_model)
        self.sinks = Fanout(([store] if store is not None else []) + community + extra + [self.annunciator] + sinks)
        self._next_metrics = 0.0
        self.uplink: Uplink | None = None
        self.claimer: Claimer | None = None  # a box not claimed yet (uplink.server_url, no credentials)
        self.home = Home(cfg, start=self.clock.now())
        self.updater = Updater(cfg.updates, state_dir or cfg.gateway.state_dir, lambda: len(self.home.alerts.open),
                               self._healthy_for_update, self._status_changed)
        if store is not None:
            restored = self.home.resume(store.open_alerts(), self.clock.now())
            self.home.remember_usual_heart(store.resting_heart_rates(self.clock.now() - USUAL_HEART_KEPT_S))
            self.home.remember_outings(store.outings(self.clock.now() - OUTINGS_KEPT_S))
            if self.notifier is not None:
                self.notifier.resume(restored, self.clock.now())
        self.decoders: dict[str, SensorDecoder] = decoders_for(cfg)
        self._garbage = {sid: GarbageWatch() for sid in self.decoders}
        self.health_window_s = health_window_s
        self._next_health = time.monotonic() + health_window_s
        d = cfg.diagnostics
        self.recent = RecentCapture(d.capture_window, int(d.capture_max_mb * 2**20))
        self.capture_sender = CaptureSender(self.recent, cfg)
        self.bus = MessageBus(self.clock, self.queue, self.recent.message if self.recent.enabled else None)
        self.raw_tap = self._serial_tap(raw_tap)
        self.tick_s = tick_s
        self.loop_heartbeat = time.monotonic()
        self.processed = 0
        self.on_output: Callable[[Output], None] | None = None
        self.on_reading: Callable[[Reading], None] | None = None  # taps for tests and tools
        self.serial: list[SerialTransport] = []
        self.watchdog: Watchdog | None = None
        self.mqtt_source: MqttSource | None = None
        self.use_mqtt = mqtt  # False: MQTT sensors are fed through self.bus (demo, tests)

    def _start_uplink(self) -> None:
        assert self.store is not None and self.cfg.uplink is not None
        self.uplink = Uplink(self.cfg, self.store, self.stop_event, self.queue, status=self.sensor_status,
                             resend_after_s=self.cfg.uplink.resend_after, clock_trusted=self.clock_trusted,
                             guard=self.supervisor.guard,
                             config_state=self.desired.state if self.desired is not None else None,
                             update_state=self.updater.report)
        self.supervisor.spawn("uplink_network", self.uplink.run_network)
        self.supervisor.spawn("uplink", self.uplink.run)

    def _healthy_for_update(self) -> bool:
        """What a new release must show to be kept: every stage turning, the community reachable."""
        return self.stuck() is None and (self.uplink is None or self.uplink.connected.is_set())

    def _status_changed(self) -> None:
        if self.uplink is not None:
            self.uplink.status_now()

    def clock_trusted(self) -> bool:
        return self.clock.now() >= TRUSTED_AFTER

    def start(self) -> None:
        if not self.clock_trusted():
            log.warning("the wall clock is not set (no RTC, no network yet): alert times will be corrected "
                        "when it is")
        if self.status_model is not None:
            sp = self.cfg.status_page
            try:
                self.status_page = StatusPage(self.status_model, sp.bind, sp.port)
            except OSError as err:  # the port is taken: any free one, and say which
                self.status_page = StatusPage(self.status_model, sp.bind, 0)
                log.warning("status page port %d unavailable (%s); using %d", sp.port, err.strerror,
                            self.status_page.port)
            threading.Thread(target=self.status_page.run, name="eg-status-page", daemon=True).start()
        if self.ha is not None:
            ha = self.ha
            self.supervisor.spawn("home_assistant", lambda: ha.run(self.stop_event))
        if self.telemetry is not None:
            self.telemetry_writer = TelemetryWriter(self.cfg, self.telemetry.spool, self.stop_event)
            self.supervisor.spawn("telemetry", self.telemetry_writer.run)
        if self.store is not None and self.cfg.uplink is not None and self.cfg.uplink.enabled:
            if Claimer.needed(self.cfg):  # a new box: the uplink starts once it is claimed
                claimer = self.claimer = Claimer(self.cfg)
                if self.status_model is not None:
                    self.status_model.claim = claimer.view

                def claim_then_link() -> None:
                    claimer.run(self.stop_event)
                    if claimer.done.is_set():
                        self._start_uplink()
                self.supervisor.spawn("claim", claim_then_link)
            else:
                self._start_uplink()
        mqtt_decoders = [d for d in self.decoders.values() if d.sensor.mqtt is not None]
        if mqtt_decoders and self.use_mqtt:
            lm = self.cfg.local_mqtt
            settings = ClientSettings(lm.url, f"eldergate-{self.cfg.gateway.id}-local", lm.protocol,
                                      lm.credentials_file)
            self.mqtt_source = MqttSource(settings, mqtt_decoders, self.clock, self.queue, self.stop_event,
                                          raw_tap=self.bus.raw_tap, guard=self.supervisor.guard)
            self.supervisor.spawn("local_mqtt", self.mqtt_source.run)
        for dec in self.decoders.values():
            s = dec.sensor
            if s.serial is not None:
                info = protocol(s.protocol)
                before = None
                if s.serial.command_port and s.serial.chirp_config:
                    before = functools.partial(send_chirp_config, s.serial.command_port, s.serial.chirp_config)
                tr = SerialTransport(dec, s.serial.port, s.serial.baud or info.default_baud, self.clock, self.queue,
                                     self.stop_event, self.raw_tap, startup=info.startup, before_open=before)
                self.serial.append(tr)
                self.supervisor.spawn(s.id, tr.run)
            elif s.mqtt is not None and not self.use_mqtt:
                self.bus.attach(dec)

    def stop(self) -> None:
        self.stop_event.set()

    def announce(self, notifier: SystemdNotifier) -> None:
        """READY=1 once the drivers and the outbox are up; then the watchdog, if systemd asked for one."""
        notifier.notify("READY=1", f"STATUS={self.status_line()}")
        interval = watchdog_interval()
        if interval is not None:
            self.watchdog = Watchdog(notifier, interval, self.stuck, self.status_line, self.stop_event)
            threading.Thread(target=self.watchdog.run, name="eg-watchdog", daemon=True).start()

    def stuck(self) -> str | None:
        """Why the gateway is not making progress, or None when every stage is."""
        limit = max(5.0, 10 * self.tick_s)
        if time.monotonic() - self.loop_heartbeat > limit:
            return f"core loop has not turned for {time.monotonic() - self.loop_heartbeat:.0f} s"
        dead = self.supervisor.dead()
        if dead:
            return f"supervised thread(s) ended: {', '.join(dead)}"
        if self.notifier is not None and not self.notifier.alive():
            return "the push worker thread ended"
        return None

    def status_line(self) -> str:
        unsent = self.store.unsent_count() if self.store is not None else 0
        up = "n/a" if self.uplink is None else ("up" if self.uplink.connected.is_set() else "DOWN")
        states = self.sensor_status()  # the one health record: silent, disconnected, degraded, failing are not ok
        ok = sum(1 for st in states.values() if st == "ok")
        return (f"{self.processed} readings, {len(self.home.alerts.open)} open alerts, {unsent} unsent, "
                f"uplink {up}, sensors {ok}/{len(states)} ok")

    def run(self) -> None:
        """The core loop; returns after ``stop()`` with everything stored."""
        next_tick = time.monotonic()
        try:
            while not self.stop_event.is_set():
                self.loop_heartbeat = time.monotonic()
                try:
                    item = self.queue.get(timeout=self.tick_s)
                except queue.Empty:
                    item = None
                self._apply_clock_jumps()  # before a reading stamped after a jump meets older timers
                self._take(item)
                if time.monotonic() >= next_tick:
                    now = self._now()
                    self._raise_storage_faults(now)
                    self._emit_all(self.home.tick(now))
                    if self.telemetry is not None and time.monotonic() >= self._next_metrics:
                        self._metrics(now)
                        self._next_metrics = time.monotonic() + 60.0
                    if self.notifier is not None:
                        for alert_id, roles in self.notifier.tick(now):
                            self._note_paged(alert_id, roles)
                    if self.store is not None:
                        self.store.flush_due()
                    self.updater.tick(time.time())  # the release's deadline is wall time, as the launcher's
                    if self.updater.relaunch or self.updater.expired:
                        self.stop()
                    self._judge_lines()
                    next_tick = time.monotonic() + self.tick_s
            self._drain()
        finally:
            if self.status_page is not None:
                self.status_page.stop()
            self.supervisor.join(timeout=2.0)
            self.sinks.close()
            if self.notifier is not None:
                self.notifier.close()

    def _take(self, item: object) -> None:
        if isinstance(item, Reading):
            self._process(item)
        elif isinstance(item, Processed):
            item.confirm()  # its readings are processed and their alerts committed: the broker may forget it
        elif isinstance(item, ConfigMessage):
            self._desired_config(item)
        elif isinstance(item, AckMessage | CommandMessage):
            self._from_server(item)

    def _drain(self) -> None:
        """Readings already accepted are processed and stored (and confirmed) before exit."""
        while True:
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                return
            if not isinstance(item, AckMessage | CommandMessage | ConfigMessage):  # the server resends those
                self._take(item)

    def _raise_storage_faults(self, now: float) -> None:
        """A damaged outbox was replaced: the grid worker hears of it (the box may have lost history)."""
        if self.store is None:
            return
        for aside in self.store.take_recovered():
            self._emit_all(self.home.alerts.storage_fault(now, aside))

    def sensor_health(self) -> dict[str, SensorHealth]:
        """One record per sensor (core/health.py): what the status page, Home Assistant, telemetry
        and the uplink's status all show."""
        silent = self.home.silent_sensors()
        links: dict[str, LinkHealth] = {t.name: t.health for t in self.serial}
        out = {}
        for sid, dec in self.decoders.items():
            link = links.get(sid)
            if link is None and dec.sensor.mqtt is not None and self.mqtt_source is not None:
                link = self.mqtt_source.health  # the home broker is every MQTT sensor's link
            task = self.supervisor.tasks.get(sid)
            out[sid] = sensor_health(sid, dec.stats, sid in silent, link, task.failures if task else 0,
                                     task.running if task else True, self._garbage[sid].degraded)
        return out

    def _judge_lines(self) -> None:
        """Every health window: is a sensor's line dropping bytes or bad frames? Logged once each way."""
        if time.monotonic() < self._next_health:
            return
        self._next_health = time.monotonic() + self.health_window_s
        for sid, dec in self.decoders.items():
            changed = self._garbage[sid].update(dec.stats)
            if changed is True:
                st = dec.stats
                log.warning("sensor %s: noisy line, degraded (%d bytes dropped, %d bad checksums, %d malformed "
                            "so far) — check the cable, the baud rate and the protocol", sid, st.dropped_bytes,
                            st.bad_checksum, st.malformed)
            elif changed is False:
                log.info("sensor %s: line clean again", sid)

    def _ha_health(self) -> dict[str, object]:
        up = self.uplink is not None and self.uplink.connected.is_set()
        return {"uplink": "ON" if up else "OFF",
                "unsent_alerts": self.store.unsent_count() if self.store is not None else 0,
                **{f"sensor_{sid}": h.state for sid, h in self.sensor_health().items()}}

    def diagnostics(self) -> dict[str, str | int | float | bool | None]:
        """The box's diagnostic report: what a grid worker's visit would check and the installer's
        walk-through checks unattended (docs/install.md, "Diagnostics from afar"). Figures and
        states only: no names, no health data, no raw waveform. Flat, and within an event's 4 KB."""
        health = self.sensor_health()
        findings = [f"{f.path}: {f.message}" for f in preflight(self.cfg) if f.severity == "error"]
        stuck = self.stuck()
        up = self.uplink is not None and self.uplink.connected.is_set()
        update = self.updater.report()
        try:
            free_mb: float | None = round(shutil.disk_usage(self.updater.state_dir).free / 2**20)
        except OSError:
            free_mb = None
        ok = not findings and stuck is None and (self.uplink is None or up) and all(
            h.state == "ok" for h in health.values())
        report: dict[str, str | int | float | bool | None] = {
            "checks_ok": ok, "version": version(), "uptime_s": round(time.time() - STARTED_AT),
            "status": self.status_line(), "stuck": stuck or "", "uplink": up, "clock_trusted": self.clock_trusted(),
            "config_version": self.desired.state.version if self.desired is not None else 0,
            "update": " ".join(x for x in update[:2] if x), "open_alerts": len(self.home.alerts.open),
            "unsent_alerts": self.store.unsent_count() if self.store is not None else 0,
            "lane_dropped": self.store.lane_dropped() if self.store is not None else 0,
            "rss_mb": round(process_metrics()["rss_mb"], 1), "disk_free_mb": free_mb,
            "findings": "; ".join(findings)[:400],
        }
        for sid, h in health.items():
            c = h.counters
            report[f"sensor:{sid}"] = (f"{h.state}, {c.get('frames', 0)} frames, {c.get('bad_checksum', 0)} bad "
                                       f"checksums, {c.get('malformed', 0)} malformed, {h.restarts} restarts")[:200]
        return report

    def _serial_tap(self, also: RawTap | None) -> RawTap | None:
        """The serial transports' raw bytes: into the recent capture, and to ``also`` (recording)."""
        if not self.recent.enabled:
            return also
        keep = self.recent.serial
        if also is None:
            return keep

        def both(t: float, sensor: str, data: bytes) -> None:
            keep(t, sensor, data)
            also(t, sensor, data)
        return both

    def metrics(self) -> dict[str, float | int | bool]:
        """The gateway's own figures: for telemetry, the status page and systemd's STATUS."""
        m: dict[str, float | int | bool] = {
            "readings": self.processed, "queue": self.queue.qsize(),
            "outbox_unsent": self.store.unsent_count() if self.store is not None else 0,
            "lane_dropped": self.store.lane_dropped() if self.store is not None else 0,
            "uplink_up": self.uplink is not None and self.uplink.connected.is_set(),
            **process_metrics(),
        }
        if self.telemetry is not None:
            m |= {"spool": self.telemetry.spool.size(), "spool_dropped": self.telemetry.spool.dropped()}
        return m

    def _metrics(self, now: float) -> None:
        assert self.telemetry is not None
        self.telemetry.point("gateway", {}, self.metrics(), now)
        for sid, h in self.sensor_health().items():
            c = h.counters
            self.telemetry.point("sensor", {"sensor": sid}, {
                "frames": c["frames"], "dropped_bytes": c["dropped_bytes"], "bad_checksum": c["bad_checksum"],
                "malformed": c["malformed"], "silent": h.state == "silent"}, now)

    def _now(self) -> float:
        now = self.clock.now()
        self._apply_clock_jumps(now)
        return now

    def _apply_clock_jumps(self, now: float | None = None) -> None:
        """A wall-clock jump (NTP after a boot without network) restarts the timers; it is not silence."""
        if isinstance(self.clock, SteadyClock):
            for delta in self.clock.take_jumps():
                t = self.clock.now() if now is None else now
                self.home.clock_jumped(t, delta)
                if t - delta < TRUSTED_AFTER <= t:  # the clock was never set before: correct what it stamped
                    self.home.alerts.shift_times(delta)
                    fixed = self.store.shift_unsent(delta) if self.store is not None else 0
                    log.warning("the wall clock has been set (%+.0f s); %d unsent alert(s) re-stamped", delta, fixed)

    def _desired_config(self, m: ConfigMessage) -> None:
        """The server's configuration: a new version that passes the box's checks is stored and the
        gateway restarts in place to run it (``restart_requested``: the caller re-executes); a
        refused one changes nothing, and the status says why at once."""
        if self.desired is None:
            return
        if self.desired.offer(m):
            self.restart_requested = True
            self.stop()  # the status after the restart says the new version
        elif self.uplink is not None:
            self.uplink.status_now()

    def _from_server(self, m: AckMessage | CommandMessage) -> None:
        """Receipts and acknowledgements from the community server, in the core loop's thread."""
        now = self.clock.now()
        if isinstance(m, CommandMessage):
            if m.command == "acknowledge" and m.alert_id:
                m = AckMessage(alert_id=m.alert_id, kind="acknowledged", by=m.by)
            elif m.command == "test_alert":
                self._emit_all(self.home.alerts.test_alert(now))
                return
            elif m.command == "restart":  # asked by the community (audited there): in place, as for a new config
                log.warning("the community server asked for a restart: restarting in place")
                self.restart_requested = True
                self.stop()
                return
            elif m.command == "diagnostics":  # asked by the community (audited there): one event answers
                report = self.diagnostics()
                if m.upload_url:
                    report["capture"] = self.capture_sender.send(m.upload_url, m.raw_waveforms, now)
                self._emit_all([Event(now, EventName.DIAGNOSTICS, details=report)])
                return
            elif m.command == "update":  # asked by the community (audited there); installed in a thread
                self.updater.offer(m.release, m.bundle_url)
                return
            elif m.command == "outdoor_temperature":
                self.home.outdoor_temperature(m.temperature_c)
                log.info("outdoor temperature from the community: %s", m.temperature_c)
                return
            else:
                return
        if m.kind == "received":
            delivered = self.home.alerts.delivered(m.alert_id, now)
            if delivered is not None and self.store is not None:
                self.store.update_alert(delivered)
            if self.notifier is not None:
                self.notifier.on_delivered(m.alert_id)
            return
        acked = self.home.alerts.acknowledge(m.alert_id, m.by or "community", now)
        if acked is not None:
            log.info("alert %s acknowledged by %s", acked.id, acked.acknowledged_by)
            self._emit_all([acked])  # stored (outbox) before the confirmation below
        if self.uplink is not None:  # confirmed every time, also a repeat: the server resends until it hears this
            known = acked or (self.store.alert(m.alert_id) if self.store is not None else None)
            self.uplink.confirm_ack(m.alert_id, m.by, None if known is None else str(known.state))

    def sensor_status(self) -> dict[str, str]:
        return {sid: h.state for sid, h in self.sensor_health().items()}

    def _process(self, r: Reading) -> None:
        if self.on_reading is not None:
            self.on_reading(r)
        if self.status_model is not None:
            self.status_model.reading(r)
        self._emit_all(self.home.process(r))
        self.processed += 1

    def _note_paged(self, alert_id: str, roles: tuple[str, ...]) -> None:
        """The box paged these roles for an open alert: kept with it, and written into its unsent
        and unreceipted messages, so that the server's ladder does not page them again."""
        a = self.home.alerts.note_paged(alert_id, roles)
        if a is not None and self.store is not None:
            self.store.mark_paged(a)

    def _emit_all(self, outputs: Sequence[Output]) -> None:
        for o in outputs:
            if self.notifier is not None and isinstance(o, Alert) and (roles := self.notifier.pages_at_once(o)):
                # stored (and so sent) saying whom the box pages: the server's ladder skips them
                o = self.home.alerts.note_paged(o.id, roles) or dataclasses.replace(o, paged=roles)
            self.sinks.emit(o)
            if self.notifier is not None:
                if isinstance(o, Alert):
                    self.notifier.on_alert(o, self.clock.now())
                elif isinstance(o, DailySummary):
                    self.notifier.on_summary(o)
            if self.on_output is not None:
                self.on_output(o)


def default_store(cfg: Config, state_dir: Path | None = None) -> Outbox:
    return Outbox((state_dir or cfg.gateway.state_dir) / "eldergate.db")
