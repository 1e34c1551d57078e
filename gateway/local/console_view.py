"""A live, readable view for a person at a terminal (the demo, ``run --console``)."""

from __future__ import annotations

from datetime import datetime
from typing import IO
from zoneinfo import ZoneInfo

from eldergate.drivers.readings import Reading
from eldergate.gateway.core.alerts import Alert, AlertState
from eldergate.gateway.core.output import Output
from eldergate.gateway.core.texts import alert_name, severity_name
from eldergate.signal.model import Event, EventName, Observation
from eldergate.signal.summary import DailySummary

_QUIET = {EventName.TURNOVER, EventName.SLEEP_START, EventName.SLEEP_END}


class ConsoleView:
    def __init__(self, stream: IO[str], timezone: str, vitals_every_s: float = 30.0, color: bool = False,
                 rooms: dict[str, str] | None = None) -> None:
        self.rooms = rooms or {}  # room id -> the name people use (one name per room, everywhere)
        self.stream = stream
        self.tz = ZoneInfo(timezone)
        self.vitals_every_s = vitals_every_s
        self._last_vitals: float | None = None
        self._hr: float | None = None
        self._c = color
        self.alerts_seen: list[Alert] = []

    def _when(self, t: float) -> str:
        return datetime.fromtimestamp(t, self.tz).strftime("%H:%M:%S")

    def _paint(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self._c else text

    def line(self, t: float, text: str) -> None:
        self.stream.write(f"{self._when(t)}  {text}\n")
        self.stream.flush()

    def emit(self, item: Output) -> None:
        if isinstance(item, Alert):
            self._alert(item)
        elif isinstance(item, Event):
            self._event(item)
        elif isinstance(item, Observation):
            self._observation(item)
        elif isinstance(item, DailySummary):
            self.summary(item)
        elif isinstance(item, Reading):
            return

    def _alert(self, a: Alert) -> None:
        if a.state == AlertState.RESOLVED:
            self.line(a.resolved_at or a.raised_at,
                      self._paint(f"✔ resolved  {alert_name(a.kind, 'en')} ({alert_name(a.kind)})", "32"))
            return
        self.alerts_seen.append(a)
        sev = f"{severity_name(a.severity, 'en')}/{severity_name(a.severity)}"
        room = self.rooms.get(a.room, a.room) or "-"
        text = f"⚠ ALERT {sev}: {alert_name(a.kind, 'en')} ({alert_name(a.kind)}) — {a.resident}, {room}"
        self.line(a.raised_at, self._paint(text, "1;31" if a.severity == "critical" else "33"))

    def _event(self, e: Event) -> None:
        if e.name in _QUIET:
            return
        extra = ", ".join(f"{k}={v}" for k, v in e.details.items() if v is not None)
        self.line(e.t, f"• {e.name.value.replace('_', ' ')}" + (f"  ({extra})" if extra else ""))

    def _observation(self, o: Observation) -> None:
        if o.name != "heart_rate_bpm":
            if o.name == "breathing_rate_bpm" and self._hr is not None and o.value is not None:
                self.line(o.t, f"♥ heart {self._hr:.0f} bpm, breathing {o.value:.0f}/min (quality {o.quality:.2f})")
                self._hr = None
            return
        if self._last_vitals is not None and o.t - self._last_vitals < self.vitals_every_s:
            return
        if o.value is None:
            return
        self._last_vitals = o.t
        self._hr = float(o.value)

    def summary(self, s: DailySummary) -> None:
        hr = "-" if s.resting_heart_rate_bpm is None else f"{s.resting_heart_rate_bpm:.0f} bpm"
        br = "-" if s.resting_breathing_rate_bpm is None else f"{s.resting_breathing_rate_bpm:.0f}/min"
        self.line(s.period_end, self._paint(f"☀ daily summary for {s.resident}", "1"))
        for label, value in (
            ("bed exits (离床次数)", f"{s.bed_exits} ({s.night_bed_exits} at night)"),
            ("turnovers (翻身次数)", str(s.turnovers)),
            ("sleep (睡眠时长)", f"{s.sleep_min / 60:.1f} h"),
            ("naps (午睡时长)", f"{s.nap_min:.0f} min"),
            ("resting heart / breathing", f"{hr} / {br}"),
            ("time active (活动时间)", f"{s.active_min:.0f} min"),
            ("falls (跌倒)", str(s.falls)),
        ):
            self.stream.write(f"            {label:<28} {value}\n")
        self.stream.flush()

    def close(self) -> None:
        self.stream.flush()
