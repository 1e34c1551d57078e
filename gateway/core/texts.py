"""Localised words for alerts and events: Chinese first, English available.

Push texts say who, where, what and how urgent; they never carry medical details.
"""

from __future__ import annotations

from typing import Literal

Lang = Literal["zh", "en"]

ALERT_NAMES: dict[str, tuple[str, str]] = {
    "fall": ("跌倒", "fall"),
    "gas": ("燃气泄漏", "gas leak"),
    "smoke": ("烟雾报警", "smoke alarm"),
    "carbon_monoxide": ("一氧化碳报警", "carbon monoxide alarm"),
    "sos": ("紧急呼叫", "SOS call"),
    "water_leak": ("漏水", "water leak"),
    "abnormal_vitals": ("生命体征异常", "abnormal vital signs"),
    "apnoea": ("呼吸暂停", "breathing pause"),
    "long_lie": ("长时间倒地不动", "long lie"),
    "out_of_bed_at_night": ("夜间离床过久", "out of bed too long at night"),
    "wandering": ("夜间外出未归", "left home at night, not back"),
    "inactivity": ("长时间无活动", "no activity seen"),
    "sensor_offline": ("传感器离线", "sensor offline"),
    "low_battery": ("电池电量低", "low battery"),
    "tamper": ("设备被拆动", "device tampered"),
    "gateway_offline": ("网关离线", "gateway offline"),
    "test": ("测试告警", "test alert"),
    "storage_fault": ("网关存储损坏，已重建", "gateway storage damaged and replaced"),
}
SEVERITY_NAMES: dict[str, tuple[str, str]] = {
    "critical": ("紧急", "CRITICAL"),
    "warning": ("警告", "warning"),
    "info": ("提示", "info"),
}


def alert_name(kind: str, lang: Lang = "zh") -> str:
    zh, en = ALERT_NAMES.get(kind, (kind, kind))
    return zh if lang == "zh" else en


def severity_name(severity: str, lang: Lang = "zh") -> str:
    zh, en = SEVERITY_NAMES.get(severity, (severity, severity))
    return zh if lang == "zh" else en
