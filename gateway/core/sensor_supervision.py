"""Sensor supervision: a sensor silent past its check-in, or a device or its bridge said offline
(Zigbee2MQTT and rtl_433 availability), is an event; hearing from it again ends it."""

from __future__ import annotations

import logging

from eldergate.config.schema import Config, Sensor
from eldergate.drivers.readings import Availability
from eldergate.signal.model import Event, EventName

log = logging.getLogger(__name__)

# how long a sensor may be silent before supervision says so, by role (config overrides)
DEFAULT_CHECK_IN_S = {
    "bed_radar": 120.0, "room_radar": 120.0, "presence": 120.0,
    "door": 25 * 3600.0, "gas": 25 * 3600.0, "smoke": 25 * 3600.0, "sos": 25 * 3600.0, "water_leak": 25 * 3600.0,
}


class _Silence:
    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self.last: float | None = None
        self.silent = False
        self.online: dict[str, bool] = {}  # availability scope (device, bridge) -> last said online


class SensorSupervision:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.sensors = {s.id: s for s in cfg.sensors}
        self._silence = {s.id: _Silence(s.check_in or DEFAULT_CHECK_IN_S[s.role]) for s in cfg.sensors}

    def heard(self, t: float, s: Sensor) -> list[Event]:
        """A reading from ``s``: it is not silent (and if it was, it has recovered)."""
        sil = self._silence[s.id]
        sil.last = t
        if not sil.silent:
            return []
        sil.silent = False
        log.info("sensor %s is reporting again", s.id)
        return [Event(t, EventName.SENSOR_RECOVERED, self.cfg.resident_for(s).id, s.room, s.id)]

    def tick(self, t: float) -> list[Event]:
        out: list[Event] = []
        for sid, sil in self._silence.items():
            if sil.last is None:
                sil.last = t
            if not sil.silent and t - sil.last >= sil.limit_s:
                sil.silent = True
                s = self.sensors[sid]
                log.warning("sensor %s silent for %.0f s (check-in %.0f s)", sid, t - sil.last, sil.limit_s)
                out.append(Event(t, EventName.SENSOR_SILENT, self.cfg.resident_for(s).id, s.room, sid,
                                 details={"silent_s": round(t - sil.last, 1)}))
        return out

    def availability(self, r: Availability, s: Sensor, resident: str) -> list[Event]:
        online = self._silence[s.id].online
        before = online.get(r.scope)
        online[r.scope] = r.online
        if (before is None and r.online) or before == r.online:
            return []
        name = EventName.BRIDGE_ONLINE if r.online else EventName.BRIDGE_OFFLINE
        return [Event(r.t, name, resident, s.room, s.id, details={"scope": r.scope})]

    def resume_offline(self, s: Sensor, raised_by: str, scope: str) -> None:
        """After a restart, a sensor_offline alert still open: the sensor is still thought offline."""
        sil = self._silence[s.id]
        if raised_by == EventName.BRIDGE_OFFLINE:
            sil.online[scope] = False
        else:
            sil.silent = True

    def clock_jumped(self, t: float) -> None:
        """A jump of the wall clock is not silence: the timers start again."""
        for sil in self._silence.values():
            sil.last = t if sil.last is not None else None

    def silent_sensors(self) -> set[str]:
        return {sid for sid, sil in self._silence.items() if sil.silent}
