"""Every alert kind either half speaks of, with its facets: usual severity, words in Chinese and
English, and the first steps a responder takes (处置流程), as alarm-receiving centres give them.

The procedures follow the public advice of China's fire service (gas: no flames or switches, open
windows, shut the valve, leave, call 119 from outside) and of first-aid training (a fall: do not
lift, check breathing and pain, call 120). They are the first minute's steps, not medical advice
for a particular person: the resident's own notes come from the registry.

The box raises these kinds (gateway/core/alerts.py) and the server raises `home_offline`
(community/work/offline.py); tests/test_alert_kinds.py fails when a kind lacks a facet."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["critical", "warning", "info"]
EMERGENCY_FIRE, EMERGENCY_AMBULANCE = "119", "120"


@dataclass(frozen=True)
class AlertKindFacets:
    kind: str
    severity: Severity
    zh: str
    en: str
    steps_zh: tuple[str, ...]
    steps_en: tuple[str, ...]
    emergency: str | None = None  # the number the procedure's first step may need: 119 or 120


_FALL_ZH = ("先打电话给老人；无人接听立即上门", "到场后不要急于扶起：先问哪里痛、能否自己动",
            "头部着地、意识不清、呼吸异常或不能起身：拨打 120", "等待期间保暖，不给食物和水", "联系家属")
_FALL_EN = ("Call the resident; if nobody answers, go at once", "On arrival do not lift them: ask where it hurts, "
            "whether they can move", "Head struck, confused, breathing badly or cannot get up: call 120",
            "Keep them warm while waiting; no food or drink", "Tell the family")

KINDS: dict[str, AlertKindFacets] = {k.kind: k for k in (
    AlertKindFacets("fall", "critical", "跌倒", "Fall", _FALL_ZH, _FALL_EN, EMERGENCY_AMBULANCE),
    AlertKindFacets("long_lie", "critical", "长时间倒地", "Long lie", _FALL_ZH, _FALL_EN, EMERGENCY_AMBULANCE),
    AlertKindFacets("gas", "critical", "燃气泄漏", "Gas leak",
                    ("电话告知老人：不开灯、不开关电器、不打火、不在室内打电话", "开窗通风，关闭燃气总阀",
                     "人员撤到室外后拨打 119 和燃气公司", "到场时在门外先闻气味，不按门铃"),
                    ("Tell the resident by phone: no lights, switches, flames or calls indoors",
                     "Open the windows, shut the gas valve", "Once outside, call 119 and the gas company",
                     "On arrival smell at the door first; do not ring an electric bell"), EMERGENCY_FIRE),
    AlertKindFacets("smoke", "critical", "烟雾报警", "Smoke",
                    ("立即拨打老人电话确认是否起火", "有明火或浓烟：拨打 119，协助老人低姿撤离，不乘电梯",
                     "无火情：查明原因（做饭、香烛）后开窗通风"),
                    ("Call the resident at once: is there a fire?",
                     "Flames or thick smoke: call 119, help them out low, no lifts",
                     "No fire: find the cause (cooking, incense), air the room"), EMERGENCY_FIRE),
    AlertKindFacets("carbon_monoxide", "critical", "一氧化碳", "Carbon monoxide",
                    ("电话告知老人开窗并离开房间", "头痛、恶心或叫不醒：拨打 120", "关闭燃气热水器和炉具"),
                    ("Tell the resident to open windows and leave the room",
                     "Headache, nausea or cannot be woken: call 120", "Turn off gas heaters and stoves"),
                    EMERGENCY_AMBULANCE),
    AlertKindFacets("sos", "critical", "紧急呼叫", "SOS button",
                    ("立即回拨老人", "无人接听：立即上门，必要时拨打 120"),
                    ("Call the resident back at once", "No answer: go at once; call 120 if needed"),
                    EMERGENCY_AMBULANCE),
    AlertKindFacets("apnoea", "critical", "呼吸暂停", "Breathing pause",
                    ("立即打电话叫醒老人", "叫不醒或呼吸异常：拨打 120 并上门"),
                    ("Call and wake the resident at once", "Cannot be woken or breathing badly: call 120 and go"),
                    EMERGENCY_AMBULANCE),
    AlertKindFacets("abnormal_vitals", "warning", "生命体征异常", "Unusual vital signs",
                    ("打电话询问老人感觉", "不适或无人接听：上门查看"),
                    ("Call and ask how they feel", "Unwell or no answer: visit"), EMERGENCY_AMBULANCE),
    AlertKindFacets("wandering", "critical", "夜间外出未归", "Out at night",
                    ("打电话给老人和家属", "在小区门口、常去地点寻找", "1 小时内未找到：报警 110"),
                    ("Call the resident and the family", "Look at the gates and their usual places",
                     "Not found within an hour: call the police, 110"), None),
    AlertKindFacets("not_back", "warning", "外出未归", "Not back",
                    ("打电话给老人和家属", "在小区门口、常去地点寻找", "天黑或天冷仍未找到：报警 110"),
                    ("Call the resident and the family", "Look at the gates and their usual places",
                     "Still missing after dark or in the cold: call the police, 110"), None),
    AlertKindFacets("found_by_passerby", "critical", "路人发现走失老人", "Found by a passer-by",
                    ("回拨发现人，请其陪同老人", "前往发现地点，联系家属"),
                    ("Call the finder back; ask them to stay with the resident",
                     "Go to where they are; tell the family"), None),
    AlertKindFacets("out_of_bed_at_night", "warning", "夜间离床过久", "Out of bed at night",
                    ("打电话询问老人是否安好", "无人接听：上门查看"),
                    ("Call and ask if they are all right", "No answer: visit"), EMERGENCY_AMBULANCE),
    AlertKindFacets("did_not_go_to_bed", "warning", "整夜未上床", "Did not go to bed",
                    ("上午打电话问候", "异常：上门查看"), ("Call in the morning", "Anything wrong: visit"), None),
    AlertKindFacets("inactivity", "warning", "长时间无活动", "No activity",
                    ("打电话给老人", "无人接听：上门查看"), ("Call the resident", "No answer: visit"),
                    EMERGENCY_AMBULANCE),
    AlertKindFacets("water_leak", "warning", "漏水", "Water leak",
                    ("打电话告知老人关闭总水阀", "联系物业"), ("Ask the resident to shut the water main",
                                                     "Call the property manager"), None),
    AlertKindFacets("home_offline", "warning", "设备离线", "Home offline",
                    ("打电话给老人确认平安", "检查网关电源和网络；需要时安排上门"),
                    ("Call the resident to check they are well", "Check the box's power and network; visit if needed"),
                    None),
    AlertKindFacets("sensor_offline", "warning", "传感器离线", "Sensor offline",
                    ("安排上门检查传感器电源",), ("Arrange a visit to check the sensor's power",), None),
    AlertKindFacets("low_battery", "info", "电量低", "Low battery", ("上门时更换电池",),
                    ("Replace the battery at the next visit",), None),
    AlertKindFacets("tamper", "warning", "设备被拆动", "Tamper", ("打电话询问，必要时上门",),
                    ("Call; visit if needed",), None),
    AlertKindFacets("storage_fault", "warning", "网关存储故障", "Box storage fault", ("安排维护人员上门",),
                    ("Send the installer",), None),
    AlertKindFacets("test", "info", "测试告警", "Test alert", ("确认收到即可",), ("Acknowledge it",), None),
)}

SEVERITY_ZH = {"critical": "紧急", "warning": "警告", "info": "提示"}
SEVERITY_EN = {"critical": "URGENT", "warning": "Warning", "info": "Note"}


def facets(kind: str) -> AlertKindFacets | None:
    return KINDS.get(kind)
