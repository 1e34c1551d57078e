"""Bed occupancy, bed exits and returns, turnovers, sleep: a streaming state machine.

Evidence comes from any mix of sources, each giving "the person is in the bed" or not:
a tracked target inside the configured bed zone, the bed radar's presence within its bed
distance band, the chest signal's presence. The bed counts as occupied while any source
says so. Hysteresis in time keeps a turnover (a target briefly leaving the zone, a
presence dropout) from being an exit; the exit is stamped when the evidence first went.
"""

from __future__ import annotations

from dataclasses import dataclass

from eldergate.signal.model import Event, EventName


@dataclass(frozen=True, slots=True)
class BedSettings:
    enter_after_s: float = 10.0
    exit_after_s: float = 20.0
    new_night_after_s: float = 3 * 3600.0  # out longer than this: the next entry is a new bedtime
    turnover_gap_s: float = 20.0  # motion bursts closer than this are one turnover
    sleep_after_s: float = 10 * 60.0  # still in bed this long: asleep
    wake_motion_s: float = 30.0  # moving this long in bed: awake
    source_timeout_s: float = 30.0  # a source silent this long no longer counts


class BedMonitor:
    """Feed ``evidence`` and ``motion`` in time order; call ``tick`` as time passes."""

    def __init__(self, resident: str, room: str, settings: BedSettings | None = None) -> None:
        self.s = settings or BedSettings()
        self.resident, self.room = resident, room
        self.in_bed = False
        self.asleep = False
        self._sources: dict[str, tuple[float, bool]] = {}  # source -> (last t, in bed)
        self._candidate_since: float | None = None  # evidence disagrees with state since
        self._exit_t: float | None = None
        self._entered_t: float | None = None
        self._last_turnover = -1e18
        self._moving_since: float | None = None
        self._still_since: float | None = None
        self._sensor = ""

    # -- inputs ---------------------------------------------------------------------------

    def evidence(self, t: float, source: str, in_bed: bool | None) -> list[Event]:
        """``in_bed`` None: the source has no opinion now (a track that ended in the bed: the
        person is still there, untracked), so the others decide, or the state holds."""
        if in_bed is None:
            self._sources.pop(source, None)
        else:
            self._sources[source] = (t, in_bed)
            self._sensor = source
        return self.tick(t)

    def motion(self, t: float, moving: bool, lying: bool = True) -> list[Event]:
        """Motion while in bed (the chest signal's motion flag or the radar's motion state).

        ``lying`` False: the person is sitting up. A burst that ends sitting up (getting up,
        reading) is a change of posture, not a turnover, so it is dropped uncounted.
        """
        out = self.tick(t)
        if not lying:
            if self._moving_since is not None:
                self._moving_since = None
                self._still_since = t
            return out
        if moving and self._moving_since is None:
            self._moving_since = t
            self._still_since = None
        elif not moving and self._moving_since is not None:
            # a turnover is a burst that ends with the person still in bed: the start of getting
            # up is motion in bed too, but it ends with an exit pending
            start, self._moving_since = self._moving_since, None
            self._still_since = t
            exit_pending = self._candidate_since is not None
            if self.in_bed and not exit_pending and start - self._last_turnover >= self.s.turnover_gap_s:
                self._last_turnover = start
                out.append(self._event(start, EventName.TURNOVER))
        return out

    # -- state ----------------------------------------------------------------------------

    def _evidence_now(self, t: float) -> bool | None:
        """Any live source says in bed; None when no source has spoken recently."""
        live = [v for (ts, v) in self._sources.values() if t - ts <= self.s.source_timeout_s]
        return any(live) if live else None

    def tick(self, t: float) -> list[Event]:
        out: list[Event] = []
        ev = self._evidence_now(t)
        if ev is None:
            # every source silent: that is not evidence of an exit (supervision reports the
            # silent sensors); the state holds until a source speaks again
            ev = self.in_bed
        if ev == self.in_bed:
            self._candidate_since = None
        else:
            if self._candidate_since is None:
                self._candidate_since = t
            hold = self.s.enter_after_s if ev else self.s.exit_after_s
            if t - self._candidate_since >= hold:
                out.extend(self._enter(t, self._candidate_since) if ev else self._leave(self._candidate_since))
                self._candidate_since = None
        out.extend(self._sleep_tick(t))
        return out

    def _enter(self, t: float, since: float) -> list[Event]:
        self.in_bed = True
        self._entered_t = since
        self._still_since = since  # still since lying down, not since the entry was confirmed
        out_s = None if self._exit_t is None else since - self._exit_t
        self._exit_t = None
        if out_s is None or out_s >= self.s.new_night_after_s:
            return [self._event(since, EventName.BED_ENTRY)]
        return [self._event(since, EventName.BED_RETURN, value=out_s, out_of_bed_s=round(out_s, 1))]

    def _leave(self, since: float) -> list[Event]:
        out = []
        if self.asleep:
            self.asleep = False
            out.append(self._event(since, EventName.SLEEP_END))
        self.in_bed = False
        self._exit_t = since
        in_bed_s = None if self._entered_t is None else since - self._entered_t
        out.append(self._event(since, EventName.BED_EXIT, in_bed_s=None if in_bed_s is None else round(in_bed_s, 1)))
        return out

    def _sleep_tick(self, t: float) -> list[Event]:
        if not self.in_bed:
            return []
        if not self.asleep and self._moving_since is None:
            still_from = self._still_since if self._still_since is not None else self._entered_t
            if still_from is not None and t - still_from >= self.s.sleep_after_s:
                self.asleep = True
                return [self._event(still_from, EventName.SLEEP_START)]
        if self.asleep and self._moving_since is not None and t - self._moving_since >= self.s.wake_motion_s:
            self.asleep = False
            return [self._event(self._moving_since, EventName.SLEEP_END)]
        return []

    def out_of_bed_since(self) -> float | None:
        return self._exit_t

    def _event(self, t: float, name: EventName, value: float | None = None, **details: float | None) -> Event:
        return Event(t, name, self.resident, self.room, self._sensor, value, details)
