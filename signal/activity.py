"""Activity level, long lie, daytime inactivity and "several people" from room radars.

* activity: the share of the last minute in which a present person was moving;
* long lie: present, motionless, outside the bed and not seated (a chair zone, or the height
  of someone sitting) for longer than a limit: dozing upright in an armchair all night is
  not lying on the floor (that night is reported as "did not go to bed", signal/night.py);
* inactivity: nobody seen anywhere in the daytime for hours, with the front door shut;
* several people: two or more targets for a while (a visitor, a carer) — the rules that
  assume a person alone are suppressed until the home is back to one person.
"""

from __future__ import annotations

from dataclasses import dataclass

from eldergate.signal.model import Event, EventName


@dataclass(frozen=True, slots=True)
class ActivitySettings:
    long_lie_after_s: float = 20 * 60.0
    inactivity_after_s: float = 4 * 3600.0
    several_after_s: float = 10.0
    alone_after_s: float = 60.0
    moving_speed_ms: float = 0.15


class ActivityMonitor:
    def __init__(self, resident: str, settings: ActivitySettings | None = None) -> None:
        self.s = settings or ActivitySettings()
        self.resident = resident
        self.present = False
        self.several = False
        self._count_since: tuple[int, float] = (0, 0.0)
        self._still_since: float | None = None
        self._long_lie = False
        self._last_seen: float | None = None
        self._inactive = False
        self.moving_s = 0.0  # seconds of movement, for the daily "time active"
        self._last_t: float | None = None
        self._moving = False

    def observe(self, t: float, present: bool, moving: bool, in_bed: bool, n_targets: int | None,
                daytime: bool, door_opened_recently: bool, posture: str | None = None) -> list[Event]:
        """``posture`` of the person still outside the bed: "floor", "seated", or None (unknown:
        the radar gives no height, so stillness outside the bed is taken as lying)."""
        out: list[Event] = []
        if self._last_t is not None and self._moving and self.present:
            self.moving_s += min(t - self._last_t, 5.0)
        self._last_t, self._moving, self.present = t, moving, present
        if n_targets is not None:
            out.extend(self._people(t, n_targets))
        if present:
            self._last_seen = t
            if self._inactive:
                self._inactive = False
                out.append(Event(t, EventName.ACTIVITY_RESUMED, self.resident))
        out.extend(self._stillness(t, present and not moving and not in_bed and posture != "seated"))
        if (daytime and not present and not self._inactive and not self.several and not door_opened_recently
                and self._last_seen is not None and t - self._last_seen >= self.s.inactivity_after_s):
            self._inactive = True
            out.append(Event(t, EventName.INACTIVITY, self.resident,
                             value=(t - self._last_seen) / 3600.0,
                             details={"hours_unseen": round((t - self._last_seen) / 3600.0, 2)}))
        return out

    def resume(self, t: float, long_lie: bool = False, inactive: bool = False) -> None:
        """After a restart with a long-lie or inactivity alert still open: that condition holds
        until the person is seen moving (or seen at all)."""
        if long_lie:
            self._long_lie, self._still_since = True, t
        if inactive:
            self._inactive = True

    def _stillness(self, t: float, still_outside_bed: bool) -> list[Event]:
        if not still_outside_bed:
            self._still_since = None
            if self._long_lie:
                self._long_lie = False
                return [Event(t, EventName.LONG_LIE_ENDED, self.resident)]
            return []
        if self._still_since is None:
            self._still_since = t
        if not self._long_lie and not self.several and t - self._still_since >= self.s.long_lie_after_s:
            self._long_lie = True
            minutes = (t - self._still_since) / 60.0
            return [Event(t, EventName.LONG_LIE, self.resident, value=minutes,
                          details={"still_min": round(minutes, 1)})]
        return []

    def _people(self, t: float, n: int) -> list[Event]:
        many = n >= 2
        count, since = self._count_since
        if (count >= 2) != many:
            self._count_since = (n, t)
            since = t
        else:
            self._count_since = (n, since)
        if many and not self.several and t - since >= self.s.several_after_s:
            self.several = True
            return [Event(since, EventName.SEVERAL_PEOPLE, self.resident, value=float(n),
                          details={"targets": n, "suppressing": "long_lie, inactivity, night rules"})]
        if not many and self.several and t - since >= self.s.alone_after_s:
            self.several = False
            return [Event(t, EventName.ALONE_AGAIN, self.resident)]
        return []
