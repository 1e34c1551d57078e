"""Localised words for alerts and events: Chinese first, English available.

Push texts say who, where, what and how urgent; they never carry medical details.
"""

from __future__ import annotations

from typing import Literal

from eldergate.contract.alert_kinds import KINDS

Lang = Literal["zh-hans", "en"]  # the codes the community server uses too (Django's)

# an alert kind's words are the contract's (contract/alert_kinds.py), the same on the wall and in a push
ALERT_NAMES: dict[str, tuple[str, str]] = {k: (f.zh, f.en[:1].lower() + f.en[1:]) for k, f in KINDS.items()}
# the events a person reads on the status page, in plain words (others show their identifier)
EVENT_NAMES: dict[str, tuple[str, str]] = {
    "bed_entry": ("上床", "went to bed"),
    "bed_return": ("回到床上", "back in bed"),
    "bed_exit": ("离床", "left the bed"),
    "sleep_start": ("入睡", "fell asleep"),
    "sleep_end": ("醒来", "woke up"),
    "turnover": ("翻身", "turned over"),
    "possible_fall": ("疑似跌倒", "possible fall"),
    "fall": ("跌倒", "fall"),
    "fall_cancelled": ("跌倒已取消", "fall cancelled"),
    "fall_recovered": ("已起身", "up again"),
    "door_opened": ("开门", "door opened"),
    "door_closed": ("关门", "door closed"),
    "gas": ("燃气报警", "gas alarm"),
    "gas_cleared": ("燃气报警解除", "gas clear"),
    "smoke": ("烟雾报警", "smoke alarm"),
    "smoke_cleared": ("烟雾报警解除", "smoke clear"),
    "sos": ("紧急呼叫", "SOS"),
    "long_lie": ("长时间不动", "long lie"),
    "wandering": ("夜间外出未归", "out at night"),
    "returned_home": ("已回家", "back home"),
    "went_out": ("外出", "went out"),
    "not_back": ("外出未归", "not back"),
    "came_back": ("外出回来", "came back"),
    "out_of_bed_at_night": ("夜间离床过久", "out of bed too long"),
    "stayed_up_all_night": ("整夜未上床", "did not go to bed"),
    "sensor_silent": ("传感器无数据", "sensor silent"),
    "sensor_recovered": ("传感器恢复", "sensor back"),
}
SEVERITY_NAMES: dict[str, tuple[str, str]] = {
    "critical": ("紧急", "CRITICAL"),
    "warning": ("警告", "warning"),
    "info": ("提示", "info"),
}


def alert_name(kind: str, lang: Lang = "zh-hans") -> str:
    zh, en = ALERT_NAMES.get(kind, (kind, kind))
    return en if lang == "en" else zh


def event_name(name: str, lang: Lang = "zh-hans") -> str:
    zh, en = EVENT_NAMES.get(name, (name, name))
    return en if lang == "en" else zh


def severity_name(severity: str, lang: Lang = "zh-hans") -> str:
    zh, en = SEVERITY_NAMES.get(severity, (severity, severity))
    return en if lang == "en" else zh
