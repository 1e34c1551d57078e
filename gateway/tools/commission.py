"""``eldergate commission --config FILE``: the installer's check that a home is ready.

1. Every configured sensor must be alive and sane: frames arriving, few dropped bytes or
   malformed messages.
2. A walk-through, each step waiting for the event that proves it: sit on the edge of the
   bed and lie down (the room radar's bed zone is checked against both poses and a zone is
   suggested when its margin is too small, gateway/tools/bed_zone_check.py), get up, lie
   down on the floor (a fall), open the front door, press the SOS button, test the smoke
   and gas detectors. A step with no sensor for it is skipped and said so; a failed step says
   what to check, and can be tried again (Enter) or skipped (s); with ``--retries N`` it is
   tried again by itself. Then a test push goes to each contact, and the installer confirms
   that every phone got it.
3. A "home ready" report goes to the community server (retained, on ``.../commission``) and
   to ``commission-report.json`` in the state directory; the exit code says whether it is ready.

It runs the real drivers and pipeline, with its own scratch outbox and without pushes or
alerts to anyone: an SOS press during commissioning must not call the grid worker.
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import paho.mqtt.client as mqtt

from eldergate.config.schema import Config
from eldergate.drivers.readings import Reading, Targets
from eldergate.gateway.core.output import Output
from eldergate.gateway.core.version import version
from eldergate.gateway.delivery.claim import Claimer
from eldergate.gateway.delivery.notify import Send, apprise_send, contact_address
from eldergate.gateway.links.mqtt_link import ClientSettings, make_client
from eldergate.gateway.runtime import Gateway
from eldergate.gateway.tools import bed_zone_check
from eldergate.signal.model import Event, EventName

EDGE_SIT_S = 15.0  # the installer sits on the edge of the bed this long
LYING_S = 5.0  # and, once the bed entry is seen, keeps lying still this long


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    ask_zh: str
    ask_en: str
    proves: tuple[EventName, ...]
    needs_roles: tuple[str, ...]
    hint: str = ""  # what to check when the step fails


STEPS = (
    Step("sit_on_bed_edge", "请坐在床边（双脚着地），保持不动",
         "Sit on the edge of the bed, feet on the floor, and keep still", (), ("room_radar",),
         "sit where the resident sits to put on slippers"),
    Step("lie_on_bed", "请躺到床上，保持不动", "Lie on the bed and keep still",
         (EventName.BED_ENTRY, EventName.BED_RETURN), ("bed_radar", "room_radar"),
         "stay 10 s; check the bed zone (room radar) or bed_distance_m (bed radar) against the real bed"),
    Step("get_up", "请起床，离开床", "Get up and leave the bed", (EventName.BED_EXIT,), ("bed_radar", "room_radar"),
         "walk out of the zone for 20 s; a zone drawn past the mattress edge keeps a person 'in bed'"),
    Step("fall", "请在床边地上躺下（跌倒测试）", "Lie down on the floor beside the bed (a fall test)",
         (EventName.POSSIBLE_FALL, EventName.FALL), ("room_radar",),
         "go down quickly and stay low; check the room radar's mounting height and that its view reaches the floor"),
    Step("fall_up", "请站起来", "Stand up again", (EventName.FALL_CANCELLED, EventName.FALL_RECOVERED), ("room_radar",),
         "stand fully upright for a few seconds; a possible fall is called off only when the radar sees you up"),
    Step("open_door", "请打开并关上入户门", "Open and close the front door", (EventName.DOOR_OPENED,), ("door",),
         "is the contact sensor paired in Zigbee2MQTT, and its topic the one in the configuration?"),
    Step("press_sos", "请按一下紧急按钮", "Press the SOS button", (EventName.SOS,), ("sos",),
         "is the button paired, and does Zigbee2MQTT show its action?"),
    Step("smoke_test", "请按下烟雾报警器的测试按钮", "Press the smoke detector's test button",
         (EventName.SMOKE_TEST, EventName.SMOKE), ("smoke",), "hold the test button until it sounds"),
    Step("gas_test", "请按下燃气报警器的测试按钮", "Press the gas detector's test button",
         (EventName.GAS, EventName.CARBON_MONOXIDE, EventName.SMOKE_TEST), ("gas",),
         "hold the test button until it sounds; some detectors report a test only as an alarm"),
)


@dataclass
class Report:
    site: str
    gateway: str
    sensors: dict[str, dict[str, Any]] = field(default_factory=dict)
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return all(s["ok"] for s in self.sensors.values()) and all(
            s["result"] != "failed" for s in self.steps.values())

    def to_json(self) -> dict[str, Any]:
        return {"site": self.site, "gateway": self.gateway, "ready": self.ready, "version": version(),
                "at": time.time(), "sensors": self.sensors, "steps": self.steps}


class Commissioning:
    def __init__(self, cfg: Config, out: IO[str], wait_input: bool, step_timeout: float = 120.0,
                 alive_timeout: float = 30.0, retries: int = 0, send: Send = apprise_send,
                 answer: Callable[[], str] = sys.stdin.readline) -> None:
        self.cfg = cfg
        self.out = out
        self.wait_input = wait_input
        self.retries = retries
        self.send, self.answer = send, answer
        self.step_timeout, self.alive_timeout = step_timeout, alive_timeout
        self.events: list[Event] = []
        self._new = threading.Condition()
        # room radars with a bed zone: positions seen, for the bed zone check
        self._zones = {s.id: s.placement.bed_zone for s in cfg.sensors
                       if s.role == "room_radar" and s.placement.bed_zone is not None}
        self._positions: list[tuple[float, str, float, float]] = []  # (monotonic t, sensor, x, y)
        self._sit_window = (1e18, -1.0)  # when the installer sat on the edge (none yet)
        self._sit_events: int | None = None  # events seen before the edge sit

    def _on_reading(self, r: Reading) -> None:
        if isinstance(r, Targets) and r.sensor in self._zones and len(r.targets) == 1:
            tg = r.targets[0]
            with self._new:
                self._positions.append((time.monotonic(), r.sensor, tg.x, tg.y))

    def _on_output(self, o: Output) -> None:
        if isinstance(o, Event):
            with self._new:
                self.events.append(o)
                self._new.notify_all()

    def run(self) -> Report:
        scratch = Path(tempfile.mkdtemp(prefix="eldergate-commission-"))
        # the real drivers and pipeline; no uplink, no pushes, a scratch state directory
        cfg = self.cfg.model_copy(update={
            "uplink": None, "notifications": self.cfg.notifications.model_copy(update={"enabled": False}),
            "gateway": self.cfg.gateway.model_copy(update={"state_dir": scratch})})
        gw = Gateway(cfg, [], tick_s=0.1)
        gw.on_output = self._on_output
        gw.on_reading = self._on_reading
        gw.start()
        core = threading.Thread(target=gw.run, name="eg-commission-core", daemon=True)
        core.start()
        report = Report(self.cfg.gateway.site, self.cfg.gateway.id)
        if Claimer.needed(self.cfg):  # the same code the running box shows (kept beside its credentials)
            c = Claimer(self.cfg).claim
            self._say(f"认领码 claim code: {c.code} — 在社区控制台认领 {self.cfg.gateway.site}/{self.cfg.gateway.id} / "
                      "claim this box in the community console (installer)")
        try:
            self._say("1/3 每个传感器是否在线 / are all sensors alive?")
            report.sensors = self._check_sensors(gw)
            self._say("2/3 逐项测试 / walk-through")
            roles: set[str] = {str(s.role) for s in self.cfg.sensors}
            for step in STEPS:
                report.steps[step.name] = self._step_with_retries(step, roles)
                if step.name == "lie_on_bed" and self._zones:
                    report.steps["bed_zone"] = self._bed_zone(report.steps)
            report.steps["test_push"] = self._test_push()
        finally:
            gw.stop()
            core.join(timeout=10)
        self._say(f"3/3 {'✔ home ready' if report.ready else '✘ not ready'}")
        return report

    def _check_sensors(self, gw: Gateway) -> dict[str, dict[str, Any]]:
        end = time.monotonic() + self.alive_timeout
        while time.monotonic() < end and any(d.stats.frames == 0 for d in gw.decoders.values()):
            time.sleep(0.2)
        out: dict[str, dict[str, Any]] = {}
        for sid, dec in gw.decoders.items():
            st = dec.stats
            bad = st.bad_checksum + st.malformed
            if st.frames == 0:
                ok, why = False, f"nothing decoded in {self.alive_timeout:.0f} s: check wiring, port and baud rate"
            elif bad > max(5, st.frames // 10):
                ok, why = False, f"{bad} bad frames of {st.frames}: wrong protocol or a noisy line?"
            else:
                ok, why = True, f"{st.frames} frames, {st.dropped_bytes} bytes dropped"
            out[sid] = {"ok": ok, "detail": why}
            self._say(f"  {'✔' if ok else '✘'} {sid} ({dec.sensor.protocol}): {why}")
        return out

    def _step_with_retries(self, step: Step, roles: set[str]) -> dict[str, Any]:
        tries = 0
        while True:
            result = self._step(step, roles)
            if result["result"] != "failed":
                return result
            self._say(f"    hint: {step.hint}")
            if self.wait_input:
                self._say("    Enter: try again, s + Enter: skip")
                if self.answer().strip().lower().startswith("s"):
                    return {"result": "failed", "skipped_by_installer": True}
            elif tries >= self.retries:
                return result
            tries += 1

    def _test_push(self) -> dict[str, Any]:
        """A test push to each contact: the installer confirms that every phone got it."""
        sent: dict[str, bool] = {}
        for r in self.cfg.residents:
            for i, c in enumerate(r.contacts):
                url = contact_address(c)
                text = (f"这是来自{r.display_name}家网关的测试消息，无需处理。\n"
                        f"This is a test from {r.display_name}'s home box; nothing to do.")
                ok = url is not None and bool(self.send(url, "【测试】eldergate", text))
                sent[f"{r.id}/{i} ({c.role})"] = ok
                self._say(f"  {'✔' if ok else '✘'} test push to {r.id} contact {i} ({c.role})"
                          + ("" if ok else ": not delivered — check the address (notify, notify_file, notify_env)"))
        if not sent:
            self._say("  – test push: no contact configured, skipped")
            return {"result": "skipped"}
        if not all(sent.values()):
            return {"result": "failed", "contacts": sent}
        if self.wait_input:
            self._say("  did every phone get the test? y + Enter / n + Enter")
            if not self.answer().strip().lower().startswith("y"):
                return {"result": "failed", "contacts": sent, "confirmed": False}
        return {"result": "passed", "contacts": sent}

    def _step(self, step: Step, roles: set[str]) -> dict[str, Any]:
        if not roles & set(step.needs_roles) or (step.name == "sit_on_bed_edge" and not self._zones):
            self._say(f"  – {step.ask_zh} / {step.ask_en}: no sensor for this, skipped")
            return {"result": "skipped"}
        if step.name == "sit_on_bed_edge":
            return self._measure(step, EDGE_SIT_S, "sitting")
        self._say(f"  → {step.ask_zh} / {step.ask_en}" + ("  [Enter when done]" if self.wait_input else ""))
        start = len(self.events)
        if step.name == "lie_on_bed" and self._sit_events is not None:
            start = self._sit_events  # sitting on the edge inside the zone is in bed already
        if self.wait_input:
            self.answer()
        found = self._wait_for(step.proves, start)
        if found is None:
            self._say(f"    ✘ no {' or '.join(str(p) for p in step.proves)} seen in {self.step_timeout:.0f} s")
            return {"result": "failed"}
        self._say(f"    ✔ {found.name} from {found.sensor or found.room or 'the pipeline'}")
        return {"result": "passed", "event": str(found.name), "sensor": found.sensor}

    def _measure(self, step: Step, seconds: float, pose: str) -> dict[str, Any]:
        """Positions while the installer holds a pose (no event proves it: it is measured)."""
        self._say(f"  → {step.ask_zh} / {step.ask_en}" + ("  [Enter when done]" if self.wait_input else ""))
        if self.wait_input:
            self.answer()
        t0 = time.monotonic()
        with self._new:
            self._sit_events = len(self.events)
        time.sleep(seconds)
        with self._new:
            seen = [p for p in self._positions if p[0] >= t0]
        self._say(f"    ✔ {len(seen)} positions while {pose}")
        self._sit_window = (t0, time.monotonic())
        return {"result": "passed", "positions": len(seen)}

    def _bed_zone(self, steps: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """Right after the bed entry: lie still a moment, then judge the zone against both poses."""
        if steps.get("lie_on_bed", {}).get("result") != "passed":
            return {"result": "skipped"}
        self._say(f"  → 请继续躺着不动 {LYING_S:.0f} 秒 / keep lying still for {LYING_S:.0f} s")
        t0 = time.monotonic()
        time.sleep(LYING_S)
        since, until = self._sit_window
        out: dict[str, Any] = {"result": "passed", "zones": {}}
        with self._new:
            positions = list(self._positions)
        for sid, zone in self._zones.items():
            sitting = [(x, y) for t, s, x, y in positions
                       if s == sid and since <= t <= until]
            lying = [(x, y) for t, s, x, y in positions if s == sid and t >= t0]
            verdict = bed_zone_check.judge(zone, sitting, lying)
            out["zones"][sid] = {"ok": verdict.ok, **verdict.to_json()}
            self._say(f"    {'✔' if verdict.ok else '✘'} {sid} bed zone: {verdict.text()}")
            if not verdict.ok:
                out["result"] = "failed"
        return out

    def _wait_for(self, names: tuple[EventName, ...], start: int) -> Event | None:
        end = time.monotonic() + self.step_timeout
        with self._new:
            while True:
                for e in self.events[start:]:
                    if e.name in names:
                        return e
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self._new.wait(min(left, 0.5))

    def _say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()


def send_report(cfg: Config, report: Report, state_dir: Path, say: Callable[[str], None]) -> None:
    body = json.dumps(report.to_json(), ensure_ascii=False, indent=2)
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        (state_dir / "commission-report.json").write_text(body)
    except OSError as err:
        say(f"could not save the report in {state_dir}: {err.strerror}")
    if cfg.uplink is None:
        say("no uplink configured: the report stays on the box")
        return
    up = cfg.uplink
    client, addr, props = make_client(ClientSettings(up.broker_url, f"eldergate-{cfg.gateway.id}-commission",
                                                     up.protocol, up.credentials_file, up.ca_file, up.cert_file,
                                                     up.key_file))
    topic = f"{up.topic_prefix}/{cfg.gateway.site}/{cfg.gateway.id}/commission"
    try:
        kwargs: dict[str, Any] = {"properties": props} if props is not None else {}
        client.connect(addr.host, addr.port, 30, **kwargs)
        client.loop_start()
        info = client.publish(topic, body, qos=1, retain=True)
        info.wait_for_publish(10)
        say(f"report sent to the community server ({topic})")
    except (OSError, ValueError, RuntimeError, mqtt.WebsocketConnectionError) as err:
        say(f"could not reach the community server ({err}); the report is saved on the box")
    finally:
        client.loop_stop()
        client.disconnect()
