"""The keys of an alert's evidence and of a detector's event details, each with its unit.

The box's detectors put these numbers in an event's details; the alert engine copies them into
the alert's evidence with the raising event's name and value; the server says them in words
(community/work/words.py). tests/test_evidence_keys.py fails when a detector writes a key that
is not here. A reader drops keys it does not know (an older server, a newer box): the alert
still counts, only that figure is not shown."""

from __future__ import annotations

import enum
from typing import Any


class EvidenceKey(enum.StrEnum):
    # what raised it (the alert engine)
    EVENT = "event"
    VALUE = "value"
    # falls
    DOWN_S = "down_s"
    LOW_S = "low_s"
    DROP_M = "drop_m"
    SPEED_MS = "speed_ms"
    SOURCE = "source"
    REASON = "reason"
    # stillness, nights and the bed
    STILL_MIN = "still_min"
    HOURS_UNSEEN = "hours_unseen"
    TARGETS = "targets"
    SUPPRESSING = "suppressing"
    PRESENT_H = "present_h"
    OUT_OF_BED_MIN = "out_of_bed_min"
    OUT_OF_BED_S = "out_of_bed_s"
    IN_BED_S = "in_bed_s"
    SINCE_DOOR_OPENED_MIN = "since_door_opened_min"
    # outings
    OUT_MIN = "out_min"
    USUAL_MIN = "usual_min"
    STARTED = "started"
    SINCE_DOOR_MIN = "since_door_min"
    WAS_OVERDUE = "was_overdue"
    WHY = "why"
    URGENT = "urgent"
    OUTDOOR_C = "outdoor_c"
    # vitals
    OF = "of"
    # home sensors and the box's supervision
    ACTION = "action"
    PULSE = "pulse"
    FRONT_DOOR = "front_door"
    SILENT_S = "silent_s"
    SCOPE = "scope"
    MOVED_ASIDE = "moved_aside"
    CLOCK_CORRECTED_S = "clock_corrected_s"
    # raised on the server: a home gone silent, a lost elder found
    SINCE = "since"
    LATITUDE = "latitude"
    LONGITUDE = "longitude"
    ACCURACY_M = "accuracy_m"
    FINDER_PHONE = "finder_phone"
    BADGE = "badge"


# each key: its unit ("" for a word, a flag or an id) and what it is
EVIDENCE: dict[EvidenceKey, tuple[str, str]] = {
    EvidenceKey.EVENT: ("", "the event that raised the alert (contract/events.py)"),
    EvidenceKey.VALUE: ("", "the raising event's value in its own unit (a heart rate: 1/min)"),
    EvidenceKey.DOWN_S: ("s", "time on the floor"),
    EvidenceKey.LOW_S: ("s", "time low near the floor before a fall was suspected"),
    EvidenceKey.DROP_M: ("m", "height lost in the fall"),
    EvidenceKey.SPEED_MS: ("m/s", "downward speed of the fall"),
    EvidenceKey.SOURCE: ("", "which measurement suspected the fall (device, height, floor)"),
    EvidenceKey.REASON: ("", "why a fall was cancelled or breathing ended"),
    EvidenceKey.STILL_MIN: ("min", "time without movement"),
    EvidenceKey.HOURS_UNSEEN: ("h", "time nobody was seen"),
    EvidenceKey.TARGETS: ("", "people the radar sees"),
    EvidenceKey.SUPPRESSING: ("", "rules held while several people are home"),
    EvidenceKey.PRESENT_H: ("h", "time at home without going to bed"),
    EvidenceKey.OUT_OF_BED_MIN: ("min", "time out of bed at night"),
    EvidenceKey.OUT_OF_BED_S: ("s", "time out of bed before returning"),
    EvidenceKey.IN_BED_S: ("s", "time in bed before leaving it"),
    EvidenceKey.SINCE_DOOR_OPENED_MIN: ("min", "time since the front door opened at night"),
    EvidenceKey.OUT_MIN: ("min", "time out of the home"),
    EvidenceKey.USUAL_MIN: ("min", "the resident's usual time out at this hour"),
    EvidenceKey.STARTED: ("unix s", "when the outing began"),
    EvidenceKey.SINCE_DOOR_MIN: ("min", "time since the door, with nobody seen inside"),
    EvidenceKey.WAS_OVERDUE: ("", "true when the outing that ended had been reported not back"),
    EvidenceKey.WHY: ("", "why an outing ran short (at_risk, cold, night), or how a home went silent"),
    EvidenceKey.URGENT: ("", "true when the reasons make a late return critical"),
    EvidenceKey.OUTDOOR_C: ("°C", "the community's outdoor temperature"),
    EvidenceKey.OF: ("", "which vital sign is normal again"),
    EvidenceKey.ACTION: ("", "the button's action (single, double, hold)"),
    EvidenceKey.PULSE: ("", "true for a sensor that reports a moment, not a state"),
    EvidenceKey.FRONT_DOOR: ("", "true for the home's front door"),
    EvidenceKey.SILENT_S: ("s", "time the sensor has been silent"),
    EvidenceKey.SCOPE: ("", "whether a device or its whole bridge went offline (device, bridge)"),
    EvidenceKey.MOVED_ASIDE: ("", "where the damaged database was kept"),
    EvidenceKey.CLOCK_CORRECTED_S: ("s", "how far the box's clock was set after it raised the alert"),
    EvidenceKey.SINCE: ("ISO 8601", "when the home was last heard"),
    EvidenceKey.LATITUDE: ("°", "the finder's latitude"),
    EvidenceKey.LONGITUDE: ("°", "the finder's longitude"),
    EvidenceKey.ACCURACY_M: ("m", "the finder's location accuracy"),
    EvidenceKey.FINDER_PHONE: ("", "the finder's phone, if given"),
    EvidenceKey.BADGE: ("", "the scanned badge's id"),
}


def known(evidence: dict[str, Any]) -> dict[str, Any]:
    """The evidence without keys this vocabulary does not have (a reader's tolerance)."""
    return {k: v for k, v in evidence.items() if k in _KEYS}


_KEYS = frozenset(str(k) for k in EvidenceKey)
