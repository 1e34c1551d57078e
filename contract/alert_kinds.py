"""Every alert kind either half speaks of, with its facets: usual severity, words in Chinese and
English, and the first steps a responder takes (处置流程), as alarm-receiving centres give them.

The procedures follow the public advice of China's fire service (gas: no flames or switches, open
windows, shut the valve, leave, call 119 from outside) and of first-aid training (a fall: do not
lift, check breathing and pain, call 120). They are the first minute's steps, not medical advice
for a particular person: the resident's own notes come from the registry.

Each kind also says what raises it and what clears it: the box's alert engine
(gateway/core/alerts.py) takes its rules from here; the server raises `home_offline`
(community/work/offline.py) and `found_by_passerby` (community/work/lost.py) itself.
tests/test_alert_kinds.py fails when a kind lacks a facet."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal

from eldergate.contract.events import EventName as E

EMERGENCY_FIRE, EMERGENCY_AMBULANCE = "119", "120"


class Severity(enum.StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


class AlertKind(enum.StrEnum):
    FALL = "fall"
    LONG_LIE = "long_lie"
    GAS = "gas"
    SMOKE = "smoke"
    CARBON_MONOXIDE = "carbon_monoxide"
    SOS = "sos"
    APNOEA = "apnoea"
    ABNORMAL_VITALS = "abnormal_vitals"
    WANDERING = "wandering"
    NOT_BACK = "not_back"  # out by day longer than usual (signal/outings.py); urgent in the cold or at risk
    FOUND_BY_PASSERBY = "found_by_passerby"
    OUT_OF_BED_AT_NIGHT = "out_of_bed_at_night"
    DID_NOT_GO_TO_BED = "did_not_go_to_bed"  # at home all night and never in bed: one morning warning
    INACTIVITY = "inactivity"
    WATER_LEAK = "water_leak"
    HOME_OFFLINE = "home_offline"
    SENSOR_OFFLINE = "sensor_offline"
    LOW_BATTERY = "low_battery"
    TAMPER = "tamper"
    STORAGE_FAULT = "storage_fault"  # the gateway's own database was damaged and replaced
    TEST = "test"  # asked for by the community server (cmd test_alert): proves the path end to end


@dataclass(frozen=True)
class AlertKindFacets:
    kind: AlertKind
    severity: Severity
    zh: str
    en: str
    steps_zh: tuple[str, ...]
    steps_en: tuple[str, ...]
    emergency: str | None = None  # the number the procedure's first step may need: 119 or 120
    origin: Literal["box", "server"] = "box"
    raised_by: tuple[E, ...] = ()  # none: the box raises it itself (a test, a storage fault)
    cleared_by: tuple[E, ...] = ()  # the events that end the condition
    closed_by_ack: bool = False  # momentary: nothing clears it but a person answering


_FALL_ZH = ("先打电话给老人；无人接听立即上门", "到场后不要急于扶起：先问哪里痛、能否自己动",
            "头部着地、意识不清、呼吸异常或不能起身：拨打 120", "等待期间保暖，不给食物和水", "联系家属")
_FALL_EN = ("Call the resident; if nobody answers, go at once", "On arrival do not lift them: ask where it hurts, "
            "whether they can move", "Head struck, confused, breathing badly or cannot get up: call 120",
            "Keep them warm while waiting; no food or drink", "Tell the family")

KINDS: dict[AlertKind, AlertKindFacets] = {k.kind: k for k in (
    AlertKindFacets(AlertKind.FALL, Severity.CRITICAL, "跌倒", "Fall", _FALL_ZH, _FALL_EN,
                    EMERGENCY_AMBULANCE, raised_by=(E.FALL,), cleared_by=(E.FALL_RECOVERED,)),
    AlertKindFacets(AlertKind.LONG_LIE, Severity.CRITICAL, "长时间倒地", "Long lie", _FALL_ZH, _FALL_EN,
                    EMERGENCY_AMBULANCE, raised_by=(E.LONG_LIE,), cleared_by=(E.LONG_LIE_ENDED,)),
    AlertKindFacets(AlertKind.GAS, Severity.CRITICAL, "燃气泄漏", "Gas leak",
                    ("电话告知老人：不开灯、不开关电器、不打火、不在室内打电话", "开窗通风，关闭燃气总阀",
                     "人员撤到室外后拨打 119 和燃气公司", "到场时在门外先闻气味，不按门铃"),
                    ("Tell the resident by phone: no lights, switches, flames or calls indoors",
                     "Open the windows, shut the gas valve", "Once outside, call 119 and the gas company",
                     "On arrival smell at the door first; do not ring an electric bell"), EMERGENCY_FIRE,
                    raised_by=(E.GAS,), cleared_by=(E.GAS_CLEARED,)),
    AlertKindFacets(AlertKind.SMOKE, Severity.CRITICAL, "烟雾报警", "Smoke",
                    ("立即拨打老人电话确认是否起火", "有明火或浓烟：拨打 119，协助老人低姿撤离，不乘电梯",
                     "无火情：查明原因（做饭、香烛）后开窗通风"),
                    ("Call the resident at once: is there a fire?",
                     "Flames or thick smoke: call 119, help them out low, no lifts",
                     "No fire: find the cause (cooking, incense), air the room"), EMERGENCY_FIRE,
                    raised_by=(E.SMOKE,), cleared_by=(E.SMOKE_CLEARED,)),
    AlertKindFacets(AlertKind.CARBON_MONOXIDE, Severity.CRITICAL, "一氧化碳", "Carbon monoxide",
                    ("电话告知老人开窗并离开房间", "头痛、恶心或叫不醒：拨打 120", "关闭燃气热水器和炉具"),
                    ("Tell the resident to open windows and leave the room",
                     "Headache, nausea or cannot be woken: call 120", "Turn off gas heaters and stoves"),
                    EMERGENCY_AMBULANCE,
                    raised_by=(E.CARBON_MONOXIDE,), cleared_by=(E.CARBON_MONOXIDE_CLEARED,)),
    AlertKindFacets(AlertKind.SOS, Severity.CRITICAL, "紧急呼叫", "SOS button",
                    ("立即回拨老人", "无人接听：立即上门，必要时拨打 120"),
                    ("Call the resident back at once", "No answer: go at once; call 120 if needed"),
                    EMERGENCY_AMBULANCE,
                    raised_by=(E.SOS,), closed_by_ack=True),
    AlertKindFacets(AlertKind.APNOEA, Severity.CRITICAL, "呼吸暂停", "Breathing pause",
                    ("立即打电话叫醒老人", "叫不醒或呼吸异常：拨打 120 并上门"),
                    ("Call and wake the resident at once", "Cannot be woken or breathing badly: call 120 and go"),
                    EMERGENCY_AMBULANCE,
                    raised_by=(E.APNOEA,), cleared_by=(E.BREATHING_RESUMED,)),
    AlertKindFacets(AlertKind.ABNORMAL_VITALS, Severity.WARNING, "生命体征异常", "Unusual vital signs",
                    ("打电话询问老人感觉", "不适或无人接听：上门查看"),
                    ("Call and ask how they feel", "Unwell or no answer: visit"), EMERGENCY_AMBULANCE,
                    raised_by=(E.ABNORMAL_HEART_RATE, E.ABNORMAL_BREATHING_RATE), cleared_by=(E.VITALS_NORMAL,)),
    AlertKindFacets(AlertKind.WANDERING, Severity.CRITICAL, "夜间外出未归", "Out at night",
                    ("打电话给老人和家属", "在小区门口、常去地点寻找", "1 小时内未找到：报警 110"),
                    ("Call the resident and the family", "Look at the gates and their usual places",
                     "Not found within an hour: call the police, 110"), None,
                    raised_by=(E.WANDERING,), cleared_by=(E.RETURNED_HOME,)),
    AlertKindFacets(AlertKind.NOT_BACK, Severity.WARNING, "外出未归", "Not back",
                    ("打电话给老人和家属", "在小区门口、常去地点寻找", "天黑或天冷仍未找到：报警 110"),
                    ("Call the resident and the family", "Look at the gates and their usual places",
                     "Still missing after dark or in the cold: call the police, 110"), None,
                    raised_by=(E.NOT_BACK,), cleared_by=(E.CAME_BACK,)),
    AlertKindFacets(AlertKind.FOUND_BY_PASSERBY, Severity.CRITICAL, "路人发现走失老人", "Found by a passer-by",
                    ("回拨发现人，请其陪同老人", "前往发现地点，联系家属"),
                    ("Call the finder back; ask them to stay with the resident",
                     "Go to where they are; tell the family"), None,
                    origin="server"),
    AlertKindFacets(AlertKind.OUT_OF_BED_AT_NIGHT, Severity.WARNING, "夜间离床过久", "Out of bed at night",
                    ("打电话询问老人是否安好", "无人接听：上门查看"),
                    ("Call and ask if they are all right", "No answer: visit"), EMERGENCY_AMBULANCE,
                    raised_by=(E.OUT_OF_BED_AT_NIGHT,), cleared_by=(E.BED_RETURN, E.BED_ENTRY)),
    AlertKindFacets(AlertKind.DID_NOT_GO_TO_BED, Severity.WARNING, "整夜未上床", "Did not go to bed",
                    ("上午打电话问候", "异常：上门查看"), ("Call in the morning", "Anything wrong: visit"), None,
                    raised_by=(E.STAYED_UP_ALL_NIGHT,), closed_by_ack=True),
    AlertKindFacets(AlertKind.INACTIVITY, Severity.WARNING, "长时间无活动", "No activity",
                    ("打电话给老人", "无人接听：上门查看"), ("Call the resident", "No answer: visit"),
                    EMERGENCY_AMBULANCE,
                    raised_by=(E.INACTIVITY,), cleared_by=(E.ACTIVITY_RESUMED,)),
    AlertKindFacets(AlertKind.WATER_LEAK, Severity.WARNING, "漏水", "Water leak",
                    ("打电话告知老人关闭总水阀", "联系物业"), ("Ask the resident to shut the water main",
                                                     "Call the property manager"), None,
                    raised_by=(E.WATER_LEAK,), cleared_by=(E.WATER_LEAK_CLEARED,)),
    AlertKindFacets(AlertKind.HOME_OFFLINE, Severity.WARNING, "设备离线", "Home offline",
                    ("打电话给老人确认平安", "检查网关电源和网络；需要时安排上门"),
                    ("Call the resident to check they are well", "Check the box's power and network; visit if needed"),
                    None,
                    origin="server"),
    AlertKindFacets(AlertKind.SENSOR_OFFLINE, Severity.WARNING, "传感器离线", "Sensor offline",
                    ("安排上门检查传感器电源",), ("Arrange a visit to check the sensor's power",), None,
                    raised_by=(E.SENSOR_SILENT, E.BRIDGE_OFFLINE), cleared_by=(E.SENSOR_RECOVERED, E.BRIDGE_ONLINE)),
    AlertKindFacets(AlertKind.LOW_BATTERY, Severity.INFO, "电量低", "Low battery", ("上门时更换电池",),
                    ("Replace the battery at the next visit",), None,
                    raised_by=(E.BATTERY_LOW,), cleared_by=(E.BATTERY_OK,)),
    AlertKindFacets(AlertKind.TAMPER, Severity.WARNING, "设备被拆动", "Tamper",
                    ("打电话询问，必要时上门",), ("Call; visit if needed",), None,
                    raised_by=(E.TAMPER,), cleared_by=(E.TAMPER_CLEARED,)),
    AlertKindFacets(AlertKind.STORAGE_FAULT, Severity.WARNING, "网关存储故障", "Box storage fault",
                    ("安排维护人员上门",), ("Send the installer",), None, closed_by_ack=True),
    AlertKindFacets(AlertKind.TEST, Severity.INFO, "测试告警", "Test alert", ("确认收到即可",),
                    ("Acknowledge it",), None, closed_by_ack=True),
)}

SEVERITY_ZH: dict[str, str] = {Severity.CRITICAL: "紧急", Severity.WARNING: "警告", Severity.INFO: "提示"}
SEVERITY_EN: dict[str, str] = {Severity.CRITICAL: "URGENT", Severity.WARNING: "Warning", Severity.INFO: "Note"}


_BY_NAME: dict[str, AlertKindFacets] = {str(k): f for k, f in KINDS.items()}


def facets(kind: str) -> AlertKindFacets | None:
    """The facets of a kind by its word (None for a word that is no kind)."""
    return _BY_NAME.get(kind)
