"""Abnormal vitals and apnoea, with hysteresis: a single bad window never raises an event.

* heart or breathing rate outside the resident's limits for ``after_s`` in a row (each
  estimate counts for the time until the next one; a gap with no estimate does not
  reset the run, it pauses it) → an event; back inside the limits as long → normal;
* breathing absent while the bed is occupied for ``apnoea_after_s`` → apnoea.
"""

from __future__ import annotations

from dataclasses import dataclass

from eldergate.signal.model import Event, EventName


@dataclass(frozen=True, slots=True)
class VitalLimits:
    heart_min: float = 40.0
    heart_max: float = 120.0
    breath_min: float = 8.0
    breath_max: float = 28.0
    after_s: float = 120.0
    apnoea_after_s: float = 20.0


class _Run:
    """How long a condition has held, and whether its event is out."""

    def __init__(self) -> None:
        self.bad_since: float | None = None
        self.good_since: float | None = None
        self.raised = False

    def update(self, t: float, bad: bool, hold: float) -> str | None:
        if bad:
            self.good_since = None
            self.bad_since = t if self.bad_since is None else self.bad_since
            if not self.raised and t - self.bad_since >= hold:
                self.raised = True
                return "raise"
        else:
            self.bad_since = None
            self.good_since = t if self.good_since is None else self.good_since
            if self.raised and t - self.good_since >= hold:
                self.raised = False
                return "clear"
        return None


class VitalLimitWatch:
    def __init__(self, resident: str, sensor: str, limits: VitalLimits | None = None) -> None:
        self.lim = limits or VitalLimits()
        self.resident, self.sensor = resident, sensor
        self._hr, self._br, self._apnoea = _Run(), _Run(), _Run()

    def estimate(self, t: float, heart: float | None, breath: float | None) -> list[Event]:
        out: list[Event] = []
        if heart is not None:
            bad = not (self.lim.heart_min <= heart <= self.lim.heart_max)
            out += self._act(t, self._hr.update(t, bad, self.lim.after_s), EventName.ABNORMAL_HEART_RATE, heart)
        if breath is not None:
            bad = not (self.lim.breath_min <= breath <= self.lim.breath_max)
            out += self._act(t, self._br.update(t, bad, self.lim.after_s), EventName.ABNORMAL_BREATHING_RATE, breath)
        return out

    def breathing_seen(self, t: float, in_bed: bool, breathing: bool) -> list[Event]:
        """``breathing`` False: the chest signal is flat while the bed says occupied."""
        if not in_bed:
            was_raised, self._apnoea = self._apnoea.raised, _Run()
            # up and out of bed: breathing, whatever the chest signal said (else the alert never ends)
            return [self._event(t, EventName.BREATHING_RESUMED, None, reason="out_of_bed")] if was_raised else []
        action = self._apnoea.update(t, not breathing, self.lim.apnoea_after_s)
        if action == "raise":
            return [self._event(t, EventName.APNOEA, self.lim.apnoea_after_s)]
        if action == "clear":
            return [self._event(t, EventName.BREATHING_RESUMED, None)]
        return []

    def resume(self, raised_by: str) -> None:
        """After a restart with an abnormal-vitals or apnoea alert open: that run is raised."""
        run = {str(EventName.ABNORMAL_HEART_RATE): self._hr, str(EventName.ABNORMAL_BREATHING_RATE): self._br,
               str(EventName.APNOEA): self._apnoea}.get(raised_by)
        if run is not None:
            run.raised = True

    def _act(self, t: float, action: str | None, name: EventName, value: float) -> list[Event]:
        if action == "raise":
            return [self._event(t, name, value)]
        if action == "clear":
            return [self._event(t, EventName.VITALS_NORMAL, value, of=str(name))]
        return []

    def _event(self, t: float, name: EventName, value: float | None, **details: str) -> Event:
        return Event(t, name, self.resident, "", self.sensor, value, details)
