"""The room radar's (and a presence sensor's) readings for its resident: the people in its view
(signal/room.py), the bed zone's evidence and the sleeper's turnovers, a fall detector per person
from their height (the centroid, or the top of the body where targets carry none), the device's
own fall flag, presence and motion."""

from __future__ import annotations

from eldergate.config.schema import Sensor
from eldergate.drivers.readings import DeviceFall, Motion, Presence, Reading, TargetHeight, Targets
from eldergate.gateway.core.output import Output
from eldergate.gateway.core.resident_state import ResidentState, bed_events, fall_detector, home_presence
from eldergate.signal.room import RoomTracks

FLOOR_MAX_M = 0.5  # centroid at or below this, still, outside bed and chairs: lying on the floor


class RoomRadars:
    def __init__(self) -> None:
        self._rooms: dict[str, RoomTracks] = {}  # room radar -> the people in its view
        self._height_source: dict[str, str] = {}  # room radar -> "centroid" or "top" (never both)

    def route(self, r: Reading, s: Sensor, rs: ResidentState) -> list[Output]:
        out: list[Output] = []
        if isinstance(r, Targets):
            room = self._room(s)
            room.update(r.t, r.targets)
            rs.targets = room.tracked
            rs.presence[s.id] = room.present
            rs.moving = room.moving
            rs.posture = self._posture(room)
            if room.bed_zone is not None:
                evidence = room.bed_evidence(r.t)
                rs.in_zone[s.id] = bool(evidence) if evidence is not None else rs.bed.in_bed
                bed: list[Output] = list(rs.bed.evidence(r.t, f"{s.id}:zone", evidence))
                bed += rs.bed.motion(r.t, *room.sleeper_motion(r.t))  # turnovers: the sleeper's only
                out += bed + bed_events(bed, rs)
            if self._height_source.setdefault(s.id, "centroid") == "centroid":
                for tg in r.targets:
                    person = room.track_person(tg.id)
                    if tg.z is not None and person is not None:
                        out += fall_detector(s, rs, person).height(
                            r.t, tg.z, room.in_bed_zone(tg.x, tg.y), alone=room.alone)
                out += self._radar_fall_up(s, rs, r)
                self._forget_fall_detectors(s, rs, room)
            out += home_presence(r.t, rs)
        elif isinstance(r, TargetHeight):
            # TLV 1012 (top of the body): used only where targets carry no centroid height, and
            # then per person like the centroid; the two are never mixed in one history
            room = self._room(s)
            person = room.track_person(r.target_id) if r.target_id is not None else None
            if self._height_source.get(s.id) != "centroid" or person is None:
                # a radar that names no target (Seeed's fall radar) has one detector, its own
                self._height_source[s.id] = "top"
                in_bed = rs.in_zone.get(s.id, False) and (person is None or person == room.sleeper)
                out += fall_detector(s, rs, person).height(r.t, r.height_m, in_bed, alone=room.alone)
        elif isinstance(r, DeviceFall):
            out += fall_detector(s, rs).device_flag(r.t, r.fallen)
        elif isinstance(r, Presence):
            if not r.present:
                self._room(s).nobody_here()
            rs.presence[s.id] = r.present
            out += home_presence(r.t, rs)
        elif isinstance(r, Motion):
            rs.moving = r.state == "active"
        return out

    def _radar_fall_up(self, s: Sensor, rs: ResidentState, r: Targets) -> list[Output]:
        """The radar-wide detector (its own fall flag, or a fall still open at a restart, when
        nobody knows which person it was) ends when one person alone is seen up again."""
        det = rs.falls.get(s.id)
        if det is None or det.state == "up" or len(r.targets) != 1:
            return []
        tg = r.targets[0]
        if tg.z is None:
            return []
        return list(det.height(r.t, tg.z, self._room(s).in_bed_zone(tg.x, tg.y)))

    @staticmethod
    def _forget_fall_detectors(s: Sensor, rs: ResidentState, room: RoomTracks) -> None:
        """A person gone from the radar's view whose detector is "up" takes it with them: every
        walk into a room is a new person, and the timers tick every detector kept."""
        if len(rs.falls) <= len(room.people) + 1:
            return
        prefix = f"{s.id}#"
        for key in [k for k, det in rs.falls.items() if k.startswith(prefix) and det.state == "up"
                    and int(k[len(prefix):]) not in room.people]:
            del rs.falls[key]

    def _room(self, s: Sensor) -> RoomTracks:
        room = self._rooms.get(s.id)
        if room is None:
            room = self._rooms[s.id] = RoomTracks(s.placement.bed_zone, tuple(s.placement.chair_zones))
        return room

    @staticmethod
    def _posture(room: RoomTracks) -> str | None:
        """Of the one person still outside the bed: on the floor, or seated (a chair zone, or the
        centroid of someone sitting); None when the radar gives no height."""
        p = room.still_person()
        if p is None:
            return None
        if room.in_chair(p):
            return "seated"
        if p.z is None:
            return None
        return "floor" if p.z <= FLOOR_MAX_M else "seated"
