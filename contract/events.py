"""The names of everything the box's detectors say happened (the ``events`` leaf's ``name``).

Both halves import them: the box's detectors (signal/) emit them, its alert engine raises and
clears alerts on them (contract/alert_kinds.py says which), and the server's wall reads a
resident's state from them (community/work/wall.py)."""

from __future__ import annotations

import enum


class EventName(enum.StrEnum):
    # bed and sleep
    BED_ENTRY = "bed_entry"
    BED_EXIT = "bed_exit"
    BED_RETURN = "bed_return"
    TURNOVER = "turnover"
    SLEEP_START = "sleep_start"
    SLEEP_END = "sleep_end"
    # falls and stillness
    POSSIBLE_FALL = "possible_fall"
    FALL = "fall"  # confirmed: the person stayed down
    FALL_CANCELLED = "fall_cancelled"
    FALL_RECOVERED = "fall_recovered"  # got up after a confirmed fall
    LONG_LIE = "long_lie"
    LONG_LIE_ENDED = "long_lie_ended"
    INACTIVITY = "inactivity"
    ACTIVITY_RESUMED = "activity_resumed"
    # nights
    OUT_OF_BED_AT_NIGHT = "out_of_bed_at_night"
    WANDERING = "wandering"
    RETURNED_HOME = "returned_home"
    WENT_OUT = "went_out"  # the front door, then nobody inside (signal/outings.py)
    NOT_BACK = "not_back"  # out longer than usual
    CAME_BACK = "came_back"  # presence inside again after an outing
    STAYED_UP_ALL_NIGHT = "stayed_up_all_night"  # at home all night, never in bed (armchair)
    # vitals
    ABNORMAL_HEART_RATE = "abnormal_heart_rate"
    ABNORMAL_BREATHING_RATE = "abnormal_breathing_rate"
    VITALS_NORMAL = "vitals_normal"
    APNOEA = "apnoea"
    BREATHING_RESUMED = "breathing_resumed"
    # home sensors
    DOOR_OPENED = "door_opened"
    DOOR_CLOSED = "door_closed"
    GAS = "gas"
    GAS_CLEARED = "gas_cleared"
    SMOKE = "smoke"
    SMOKE_CLEARED = "smoke_cleared"
    SMOKE_TEST = "smoke_test"
    CARBON_MONOXIDE = "carbon_monoxide"
    CARBON_MONOXIDE_CLEARED = "carbon_monoxide_cleared"
    WATER_LEAK = "water_leak"
    WATER_LEAK_CLEARED = "water_leak_cleared"
    SOS = "sos"
    # people
    SEVERAL_PEOPLE = "several_people"
    ALONE_AGAIN = "alone_again"
    # sensor health (raised by the gateway's supervision, same model)
    SENSOR_SILENT = "sensor_silent"
    SENSOR_RECOVERED = "sensor_recovered"
    BATTERY_LOW = "battery_low"
    BATTERY_OK = "battery_ok"
    TAMPER = "tamper"
    TAMPER_CLEARED = "tamper_cleared"
    BRIDGE_OFFLINE = "bridge_offline"
    BRIDGE_ONLINE = "bridge_online"
    # the box itself: its diagnostic report, asked for by the community server (cmd "diagnostics")
    DIAGNOSTICS = "diagnostics"
