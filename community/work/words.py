"""Every word the pages show, in Chinese first and English, and the evidence of an alert in plain
words ("倒地 4 分钟" / "on the floor 4 min"). A test checks that every entry has both languages."""

from __future__ import annotations

import math
from typing import Any

from eldergate.contract.alert_kinds import AlertKind
from eldergate.contract.events import EventName
from eldergate.contract.evidence import EvidenceKey as K

LANGS = ("zh-hans", "en")

T: dict[str, tuple[str, str]] = {
    # states of a resident on the wall
    "asleep": ("卧床睡眠", "in bed, asleep"),
    "awake_in_bed": ("卧床清醒", "awake in bed"),
    "up": ("起床活动", "up and about"),
    "out": ("外出", "out of the home"),
    "unseen": ("未见活动", "no one seen"),
    "offline": ("网关离线", "home offline"),
    # tile and page labels
    "age": ("岁", "y"),
    "hr": ("心率", "heart"),
    "br": ("呼吸", "breathing"),
    "per_min": ("次/分", "/min"),
    "as_of": ("截至", "as of"),
    "bed_exits": ("离床", "bed exits"),
    "turnovers": ("翻身", "turnovers"),
    "nap": ("午睡", "nap"),
    "activity": ("活动", "activity"),
    "minutes": ("分钟", "min"),
    "open_alerts": ("未处理告警", "open alerts"),
    "acknowledged_by": ("已确认：", "acknowledged by "),
    "not_acknowledged": ("无人确认", "nobody has acknowledged"),
    "wall_title": ("独居老人安全看护", "Elders living alone"),
    "residents": ("位老人", "residents"),
    "live": ("实时", "live"),
    "reconnecting": ("重新连接中…", "reconnecting…"),
    "updated": ("更新于", "updated"),
    "sev_critical": ("紧急", "URGENT"),
    "sev_warning": ("警告", "Warning"),
    "sev_info": ("提示", "Note"),
    "more_alerts": ("另有告警", "more alerts:"),
    "minutes_short": ("分", "m"),
    "times": ("次", "×"),
    "error_back": ("返回工作台", "Back to the console"),
    "error_404": ("页面不存在", "Page not found"),
    "error_404_explain": ("没有这个页面，或您无权查看它。", "There is no such page, or it is not yours to see."),
    "error_403": ("无权访问", "Not allowed"),
    "error_403_explain": ("您的账号不能打开此页面。如需要，请联系社区管理员。",
                          "Your account cannot open this page. Ask the community admin if you need it."),
    "error_500": ("服务器出错", "Server error"),
    "error_500_explain": ("出了点问题，已记录。请稍后再试；紧急情况请直接打电话。",
                          "Something went wrong and was logged. Try again shortly; in an emergency, call."),
    "error_wall_key": ("大屏地址无效", "This screen's address is not valid"),
    "error_wall_key_explain": ("此地址缺少大屏密钥或密钥已更换。"
                               "请社区管理员运行 eldergate community wall-url 获取新地址。",
                               "The address lacks the wall key, or the key was changed: the community admin gets the "
                               "new address with eldergate community wall-url."),
    "error_medical": ("仅限社区管理员与网格员", "For community admins and grid workers"),
    "error_medical_explain": ("病史与用药仅限社区管理员与网格员查看，本次尝试已记录。",
                              "Medical notes are for community admins and grid workers; this attempt was logged."),
    "error_visits_explain": ("探访由社区工作人员与志愿者记录。",
                             "Visits are recorded by community staff and volunteers."),
    "by_gateway": ("家中网关", "the home's box"),
    "by_server": ("服务器", "the server"),
    "role_child": ("子女", "child"),
    "role_relative": ("亲属", "relative"),
    "role_neighbour": ("邻居", "neighbour"),
    "role_volunteer": ("志愿者", "volunteer"),
    "role_grid-worker": ("网格员", "grid worker"),
    "role_doctor": ("家庭医生", "family doctor"),
    "visit_visit": ("上门探访", "visit"),
    "visit_call": ("电话", "call"),
    "what_to_do": ("处置流程", "What to do"),
    "call_119": ("拨打 119 火警", "Call 119 (fire)"),
    "call_120": ("拨打 120 急救", "Call 120 (ambulance)"),
    "call_in_order": ("按顺序拨打", "Call in this order"),
    "is_keyholder": ("有钥匙", "has a key"),
    "access": ("入户信息（钥匙盒、单元门）", "Getting in (key safe, entrance)"),
    "access_logged": ("查看将被记录", "reading is logged"),
    "access_title": ("入户信息", "Getting in"),
    "address": ("地址", "Address"),
    "choose_outcome": ("请选择处理结果", "Choose the outcome"),
    "outcome_required": ("请先选择处理结果", "Choose an outcome first"),
    "resolved_as": ("处理结果：{outcome}", "Outcome: {outcome}"),
    "no_resident_home": ("此告警针对整户设备，未指定老人", "This alert is about the home's box, not one resident"),
    "tone_on": ("开启提示音", "Turn the alarm tone on"),
    "tone_off": ("关闭提示音", "Turn the alarm tone off"),
    "tone_explain": ("有未确认的告警时持续响铃（浏览器要求先点一下才能出声）",
                     "Rings while an alert is unacknowledged (browsers need a tap first)"),
    "family_title": ("家人看护", "Family"),
    "box_online": ("家中设备在线，最后消息：{seen}", "The box at home is online; last message {seen}"),
    "box_offline": ("家中设备离线（最后消息：{seen}）：此时跌倒等告警无法送出。"
                    "社区网格员已收到提醒；请打电话问候老人，并检查电源和网络。",
                    "The box at home is offline (last message {seen}): a fall cannot be reported now. The grid "
                    "worker has been told; please call your relative and check the power and the network."),
    "summary_old": ("这是最近一次的报告，已不是今天的：家中设备可能没有正常工作。",
                    "This is the latest summary, and it is not today's: the box may not be working."),
    "no_summary": ("还没有夜间报告。", "No nightly summary yet."),
    "sum_night_of": ("{date} 夜间", "Night to {date}"),
    "sum_sleep": ("睡了 {h} 小时 {m} 分钟", "slept {h} h {m} min"),
    "sum_exits": ("夜间离床 {n} 次", "got up {n} times"),
    "sum_turnovers": ("翻身 {n} 次", "turned over {n} times"),
    "sum_hr": ("静息心率每分钟 {n} 次", "resting heart rate {n} a minute"),
    "sum_br": ("静息呼吸每分钟 {n} 次", "resting breathing {n} a minute"),
    "error_reports_explain": ("报表仅限社区工作人员查看。", "Reports are for community staff."),
    "step_receipt": ("送达服务器", "reached the server"),
    "step_acknowledge": ("确认", "acknowledged"),
    "step_arrive": ("到达现场", "arrived"),
    "step_resolve": ("处理完毕", "resolved"),
    "count": ("次数", "count"),
    "median_s": ("中位数（秒）", "median (s)"),
    "p90_s": ("九成以内（秒）", "90% within (s)"),
    "finder_title": ("您发现了一位可能走失的老人", "You have found an elder who may be lost"),
    "finder_explain": ("谢谢您停下来帮忙。请点下面的按钮，社区工作人员会马上收到通知并赶来。"
                       "如果可以，请陪老人在原地等候，留下您的电话，方便我们联系您。",
                       "Thank you for stopping. Tap the button: the community's staff are told at once and come. "
                       "If you can, stay with them and leave a number we can call you back on."),
    "finder_phone": ("您的电话（可不填）", "Your phone (optional)"),
    "finder_button": ("通知社区：我在老人身边", "Tell the community: I am with them"),
    "finder_privacy": ("此页不显示老人的姓名、住址和健康信息。您的位置仅在您允许时发送给社区。",
                       "This page shows nothing about the elder. Your location is sent only if you allow it."),
    "finder_thanks": ("已通知社区，谢谢您！", "The community has been told. Thank you!"),
    "finder_coming": ("社区工作人员已收到通知，正在赶来。",
                      "The community's staff have been told and are on their way."),
    "finder_stay": ("如方便，请陪老人在原地等候，不要让老人独自离开。",
                    "If you can, stay with them; do not let them walk off alone."),
    "finder_call_hotline": ("拨打社区电话", "Call the community"),
    "finder_call_110": ("拨打 110 报警求助", "Call 110 (police)"),
    "finder_revoked": ("此防走失码已停用。如老人需要帮助，请拨打下面的电话。",
                       "This badge is no longer in use. If the elder needs help, call the number below."),
    "lost_title": ("走失寻找", "Finding them"),
    "finder_where": ("发现者位置", "Where the finder is"),
    "finder_callback": ("回电发现者", "Call the finder back"),
    "open_map": ("在地图中打开", "Open in a map"),
    "appearance": ("外貌特征", "How they look"),
    "calming": ("安抚方式", "What calms them"),
    "last_left": ("网关最后看到外出", "Last seen going out"),
    "positions": ("定位器最近位置", "The locator's latest positions"),
    "photo": ("照片", "Photo"),
    "badge": ("防走失码", "Anti-lost badge"),
    "badge_issue": ("生成新码（旧码作废）", "Issue a new code (the old one stops working)"),
    "badge_revoke": ("停用", "Revoke"),
    "badge_print": ("打印后贴在衣物或随身物品上。扫码的人只看到社区电话，看不到老人的任何信息。",
                    "Print it for clothing or a bag. Whoever scans it sees the community's phone, "
                    "nothing about the elder."),
    "badge_none": ("尚未生成防走失码", "No badge issued yet"),
    "at_risk": ("有走失风险（认知障碍、曾走失）", "At risk of getting lost (dementia, lost before)"),
    "save": ("保存", "Save"),
    "out_for": ("外出 {t}", "out {t}"),
    "out_told": ("外出 {t}，已通知网格员", "out {t}; the grid worker has been told"),
    "duration_hm": ("{h} 小时 {m} 分钟", "{h} h {m} min"),
    "duration_m": ("{m} 分钟", "{m} min"),
    "data_gap": ("数据中断", "no data for"),
    "last_update": ("最后更新", "last update"),
    "seconds": ("秒", "s"),
    "just_now": ("刚刚", "just now"),
    "min_ago": ("{n} 分钟前", "{n} min ago"),
    "hours_ago": ("{n} 小时前", "{n} h ago"),
    "hr_not_in_bed": ("不在床", "not in bed"),
    "hr_weak": ("信号弱", "weak signal"),
    "hr_offline": ("设备离线", "box offline"),
    "resting_short": ("静息", "resting"),
    "activity_level": ("活动", "activity"),
    "activity_low": ("少", "low"),
    "activity_usual": ("正常", "usual"),
    "activity_high": ("多", "high"),
    "gas": ("燃气", "gas"),
    "smoke_s": ("烟感", "smoke"),
    "door": ("门", "door"),
    "sensor_ok": ("正常", "ok"),
    "sensor_alarm": ("报警", "ALARM"),
    "sensor_off": ("离线", "offline"),
    "door_open": ("开", "open"),
    "door_closed": ("关", "closed"),
    "building_unit_room": ("{b}栋{u}单元{r}", "bldg {b} unit {u} #{r}"),
    "ago": ("前", "ago"),
    "console_title": ("网格员工作台", "Grid worker console"),
    "my_alerts": ("我的告警", "My alerts"),
    "community_alerts": ("社区告警", "Community alerts"),
    "no_open_alerts": ("没有未处理的告警", "No open alerts"),
    "acknowledge": ("确认", "Acknowledge"),
    "on_the_way": ("正在赶往", "On my way"),
    "arrived": ("已到达", "Arrived"),
    "resolve": ("处理完毕", "Resolve"),
    "outcome": ("处理结果", "Outcome"),
    "note": ("备注", "Note"),
    "comment": ("留言", "Comment"),
    "send": ("提交", "Send"),
    "call": ("拨打", "Call"),
    "contacts": ("联系人", "Contacts"),
    "keyholder": ("钥匙保管人", "Keyholder"),
    "medical": ("病史与用药", "Medical notes"),
    "medical_logged": ("查看将被记录", "reading is logged"),
    "box_settings": ("设备设置", "The box's settings"),
    "night_hours": ("夜间时段", "Night hours"),
    "save_and_send": ("保存并下发", "Save and send to the box"),
    "config_in_step": ("已生效", "in effect"),
    "config_pending": ("待设备确认", "waiting for the box"),
    "config_refused": ("设备拒绝", "refused by the box"),
    "config_version": ("配置版本", "configuration version"),
    "medical_history": ("病史", "Medical history"),
    "medications": ("用药", "Medications"),
    "allergies": ("过敏", "Allergies"),
    "key_safe": ("钥匙盒", "Key safe"),
    "history": ("处理记录", "History"),
    "evidence": ("依据", "Evidence"),
    "resident_page": ("老人档案", "Resident"),
    "back": ("返回", "Back"),
    # the platform operator's fleet page
    "fleet": ("设备总览", "Fleet"),
    "fleet_operator_only": ("设备总览只对平台运维开放。", "The fleet page is for the platform operator."),
    "rollouts": ("软件升级", "Rollouts"),
    "rollout_stage": ("阶段", "stage"),
    "canary": ("试点", "canary"),
    "wave": ("批次", "wave"),
    "boxes": ("网关", "Boxes"),
    "box": ("网关", "Box"),
    "home": ("住户", "Home"),
    "software": ("软件版本", "Software"),
    "fleet_config": ("配置 已生效/已下发", "Config applied/sent"),
    "last_seen": ("最近联系", "Last seen"),
    "health": ("状态", "Health"),
    "fleet_update": ("最近升级", "Last update"),
    "unsent": ("待发告警", "unsent alerts"),
    # claiming a box (the installer's page)
    "claim_box": ("认领网关", "Claim a box"),
    "claim_code": ("认领码（网关状态页或调试输出上）", "Claim code (on the box's status page or commissioning output)"),
    "claim_home": ("安装在哪一户", "Installed in which home"),
    "claim_submit": ("认领", "Claim"),
    "claim_done": ("已认领：{username}。网关将在几秒内取得凭证并连接。",
                   "Claimed: {username}. The box collects its credentials and connects within seconds."),
    "claim_refused": ("无法认领：{why}", "Not claimed: {why}"),
    "claim_not_allowed": ("只有安装人员、社区管理员和平台运维可以认领网关。",
                          "Only installers, community admins and the platform operator claim boxes."),
    "claim_recent": ("最近的网关身份", "Recent box identities"),
    "identity_live": ("有效", "live"),
    "identity_revoked": ("已吊销", "revoked"),
    "identity_collected": ("已取得凭证", "credentials collected"),
    "identity_waiting": ("等待网关取得凭证", "waiting for the box"),
    "revoke": ("吊销（网关已拆除或丢失）", "Revoke (box removed or lost)"),
    "revoked_done": ("已吊销 {username}：代理服务器几秒内拒绝它。它上次报告有 {unsent} 条未发送的告警，仍在网关里。",
                     "Revoked {username}: the broker refuses it within seconds. Its last status listed {unsent} "
                     "unsent alert(s); they stay on the box."),
    "too_many_screens": ("同时打开的屏幕太多", "Too many screens open"),
    "too_many_screens_explain": ("此服务器同时服务的大屏数已达上限（或此地址已在太多屏幕上打开）。"
                                 "请关闭不用的屏幕；本页 30 秒后自动重试。",
                                 "This server already serves as many live screens as it may (or this address is "
                                 "open on too many). Close screens not in use; this page tries again in 30 s."),
    "no_consent_short": ("未登记监测同意", "no monitoring consent"),
    "no_consent": ("尚未登记本人（或监护人）对健康监测的同意：生命体征与夜间情况不显示。告警照常处理。",
                   "No consent to monitoring is recorded: vitals and nightly figures are hidden. Alerts are "
                   "handled as always."),
    "consent": ("健康监测同意", "Consent to monitoring"),
    "consent_given": ("已同意：{who}，{when}", "Given by {who}, {when}"),
    "consent_record": ("登记同意", "Record consent"),
    "consent_given_by": ("同意人（本人或监护人）", "Given by (the resident or their guardian)"),
    "consent_withdraw": ("撤回同意", "Withdraw consent"),
    "login": ("登录", "Log in"),
    "logout": ("退出", "Log out"),
    "username": ("用户名", "Username"),
    "password": ("密码", "Password"),
    "login_failed": ("用户名或密码错误", "Wrong username or password"),
    "locked_out": ("登录失败次数过多，请 {minutes} 分钟后再试，或请社区管理员帮助。",
                   "Too many failed logins: try again in {minutes} minutes, or ask the community admin."),
    "otp_code": ("验证码（身份验证器中的 6 位数字）", "Code (6 digits from your authenticator app)"),
    "otp_failed": ("验证码不对或已过期", "Wrong or expired code"),
    "admin_needs_otp": ("管理后台需要平台运维人员以密码加验证码登录（eldergate community otp add 用户名）。",
                        "The admin needs the platform operator logged in with a password and a code "
                        "(eldergate community otp add USER)."),
    "link_title": ("一次性登录链接", "One-time login link"),
    "link_continue": ("继续登录", "Continue"),
    "link_explain": ("此链接只能使用一次，用后即失效。", "This link works once and then expires."),
    "link_spent": ("此登录链接已使用或已过期，请用密码登录，或请管理员重新发送。",
                   "This login link was already used or has expired: log in with a password, or ask for a new link."),
    "last_30_days": ("近 30 天", "Last 30 days"),
    "nights": ("夜间", "Nights"),
    "night_exits": ("夜间离床", "night bed exits"),
    "sleep": ("睡眠", "sleep"),
    "resting_hr": ("静息心率", "resting heart rate"),
    "resting_br": ("静息呼吸", "resting breathing"),
    "baseline": ("个人基线", "own baseline"),
    "advisories": ("健康提示", "Advisories"),
    "no_advisories": ("近期无异常变化", "No change from the usual"),
    "visits": ("探访记录", "Visits"),
    "record_visit": ("记录探访", "Record a visit"),
    "record_call": ("记录电话", "Record a call"),
    "visit_list": ("探访清单", "Visit list"),
    "days_since_visit": ("距上次探访（天）", "days since the last visit"),
    "never": ("从未", "never"),
    "visits_this_month": ("本月探访", "visits this month"),
    "handling": ("我来处理", "I'm handling it"),
    "handled_by_relative": ("家属正在处理", "a relative is handling it"),
    "morning_summary": ("今晨报告", "This morning's summary"),
    "alerts_and_outcomes": ("告警与处理", "Alerts and what was done"),
    "reports": ("统计报表", "Reports"),
    "download": ("下载表格", "Download spreadsheet"),
    "alerts_by_kind": ("告警类型", "Alerts by kind"),
    "response_times": ("响应时间", "Response times"),
    "false_alarm_rate": ("误报率", "False-alarm rate"),
    "offline_hours": ("离线时长（小时）", "Offline hours"),
    "within_target": ("达标率", "within target"),
    "misses": ("未达标", "misses"),
    "language": ("English", "中文"),
    "test_mode": ("测试模式", "test mode"),
    "stale": ("数据过时", "stale"),
    "since": ("自", "since"),
    # outcomes
    "false_alarm": ("误报", "false alarm"),
    "resident_fine": ("老人无恙", "resident fine"),
    "helped": ("已协助", "helped"),
    "ambulance_called": ("已叫救护车", "ambulance called"),
    "not_at_home": ("不在家", "not at home"),
    "device_fault": ("设备故障", "device fault"),
    "other": ("其他", "other"),
    # alert states
    "state_raised": ("已发出", "raised"),
    "state_received": ("待确认", "received"),
    "state_acknowledged": ("已确认", "acknowledged"),
    "state_on_the_way": ("正在赶往", "on the way"),
    "state_arrived": ("已到达", "arrived"),
    "state_resolved": ("已处理", "resolved"),
    "state_delivered": ("已送达", "delivered"),
    # evidence
    "ev_down": ("倒地 {m} 分钟", "on the floor {m} min"),
    "ev_still": ("静止 {m} 分钟", "still for {m} min"),
    "ev_out_of_bed": ("离床 {m} 分钟", "out of bed {m} min"),
    "ev_door": ("出门 {m} 分钟未归", "out of the door {m} min"),
    "ev_unseen": ("{h} 小时未见活动", "not seen for {h} h"),
    "ev_rate": ("数值 {v}", "value {v}"),
    "ev_in": ("位置：{room}", "in the {room}"),
    "ev_sensor": ("传感器：{sensor}", "sensor {sensor}"),
    "ev_offline_will": ("网关断线", "the gateway's connection dropped"),
    "ev_offline_silence": ("网关长时间无消息", "no message from the gateway"),
    "ev_out": ("外出 {m} 分钟未归", "out {m} min, not back"),
    "ev_usual": ("平时约 {m} 分钟", "usually about {m} min"),
    "ev_why_night": ("夜间", "at night"),
    "ev_why_cold": ("天冷", "cold outside"),
    "ev_why_at_risk": ("有走失风险", "at risk of getting lost"),
    "ev_outdoor": ("室外 {c}°C", "outdoors {c} °C"),
    "ev_found": ("路人扫防走失码发现", "a passer-by scanned the badge"),
    "ev_found_located": ("发现者已发送位置", "the finder sent their location"),
    "ev_found_phone": ("发现者留有电话", "the finder left a phone number"),
    # advisories
    "adv_night_exits": ("夜间离床次数翻倍：近 3 晚平均 {now}，以往 {base}", "night-time exits doubled: {now} a night "
                        "over the last 3 nights, usually {base}"),
    "adv_sleep": ("睡眠明显减少：近 3 晚平均 {now} 分钟，以往 {base} 分钟", "sleep collapsed: {now} min a night over "
                  "the last 3 nights, usually {base}"),
    "adv_hr": ("静息心率上升：近 3 晚 {now}，以往 {base}", "resting heart rate up: {now} over the last 3 nights, "
               "usually {base}"),
    "adv_activity": ("白天活动减少：近 3 天平均 {now} 分钟，以往 {base} 分钟",
                     "activity falling: {now} min a day over the last 3 days, usually {base}"),
    "adv_no_bed": ("昨晚没有上床睡觉", "did not go to bed last night"),
}

ROOMS = {"kitchen": ("厨房", "kitchen"), "bedroom": ("卧室", "bedroom"), "living_room": ("客厅", "living room"),
         "bathroom": ("卫生间", "bathroom"), "hall": ("门厅", "hall"), "entrance": ("门口", "entrance")}


def duration(seconds: float, lang: str) -> str:
    """"1 小时 20 分钟", "45 分钟"."""
    m = int(max(0.0, seconds) // 60)
    return t("duration_hm", lang, h=m // 60, m=m % 60) if m >= 60 else t("duration_m", lang, m=m)


def since(delta_s: float, at_local: str, lang: str) -> str:
    """How long ago, as a person says it: "刚刚", "12 分钟前", "3 小时前", then the date and time
    ("12-05 03:12") once it is a day old (never "20079 分钟")."""
    m = int(max(0.0, delta_s) // 60)
    if m < 1:
        return t("just_now", lang)
    if m < 60:
        return t("min_ago", lang, n=m)
    if m < 24 * 60:
        return t("hours_ago", lang, n=m // 60)
    return at_local


def summary_sentence(figures: dict[str, Any], period_end: Any, lang: str) -> str:
    """A night's summary as a sentence with its date: "12月06日 夜间：睡了 7 小时 9 分钟，夜间离床
    2 次，翻身 14 次，静息心率每分钟 64 次。" A zero is said ("0 次"); a figure the box lacks is left out."""
    figures = figures if isinstance(figures, dict) else {}
    parts = []
    sleep = _number(figures, "sleep_min")
    if sleep is not None:
        parts.append(t("sum_sleep", lang, h=int(sleep // 60), m=round(sleep % 60)))
    for key, word in (("night_bed_exits", "sum_exits"), ("turnovers", "sum_turnovers"),
                      ("resting_heart_rate_bpm", "sum_hr"), ("resting_breathing_rate_bpm", "sum_br")):
        v = _number(figures, key)
        if v is not None:
            parts.append(t(word, lang, n=round(v)))
    date = period_end.strftime("%m月%d日") if lang != "en" else period_end.strftime("%d %b")
    head = t("sum_night_of", lang, date=date)
    if lang == "en":
        return f"{head}: " + ", ".join(parts) + "." if parts else head
    return f"{head}：" + "，".join(parts) + "。" if parts else head


def t(key: str, lang: str, **kw: Any) -> str:
    zh, en = T[key]
    text = en if lang == "en" else zh
    return text.format(**kw) if kw else text


def room(room_id: str, lang: str) -> str:
    zh, en = ROOMS.get(room_id, (room_id, room_id.replace("_", " ")))
    return en if lang == "en" else zh


def _number(ev: dict[str, Any], key: str) -> float | None:
    """``ev[key]`` if it is a finite number; anything else a box sent is not rendered (a page must
    never fail on one alert's content)."""
    v = ev.get(key)
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or abs(v) > 1e9:
        return None
    return float(v)


_VITAL_LABELS: dict[str, str] = {EventName.ABNORMAL_HEART_RATE: "hr", EventName.ABNORMAL_BREATHING_RATE: "br"}


def evidence(kind: str, ev: Any, room_id: str, sensor: str, lang: str) -> list[str]:
    """The numbers that raised an alert, as a grid worker reads them."""
    ev = ev if isinstance(ev, dict) else {}
    out: list[str] = []
    down = _number(ev, K.DOWN_S)  # the box's fall detector: seconds on the floor
    if down is not None:
        out.append(t("ev_down", lang, m=max(1, round(down / 60))))
    for key, word in ((K.STILL_MIN, "ev_still"), (K.OUT_OF_BED_MIN, "ev_out_of_bed"),
                      (K.SINCE_DOOR_OPENED_MIN, "ev_door")):
        v = _number(ev, key)
        if v is not None:
            out.append(t(word, lang, m=round(v)))
    hours = _number(ev, K.HOURS_UNSEEN)
    if hours is not None:
        out.append(t("ev_unseen", lang, h=int(hours) if hours.is_integer() else round(hours, 1)))
    rate = _number(ev, K.VALUE)  # an unusual vital sign: the raising event says which, its value the rate
    label = _VITAL_LABELS.get(str(ev.get(K.EVENT, "")))
    if rate is not None and label is not None:
        out.append(f"{t(label, lang)} {round(rate)}{t('per_min', lang)}")
    out_min = _number(ev, K.OUT_MIN)
    if out_min is not None and kind == AlertKind.NOT_BACK:
        out.append(t("ev_out", lang, m=round(out_min)))
        usual = _number(ev, K.USUAL_MIN)
        if usual is not None:
            out.append(t("ev_usual", lang, m=round(usual)))
        for why in str(ev.get(K.WHY, ""))[:60].split(","):
            if f"ev_why_{why}" in T:
                out.append(t(f"ev_why_{why}", lang))
        c = _number(ev, K.OUTDOOR_C)
        if c is not None:
            out.append(t("ev_outdoor", lang, c=round(c)))
    if kind == AlertKind.FOUND_BY_PASSERBY:
        out.append(t("ev_found", lang))
        if _number(ev, K.LATITUDE) is not None:
            out.append(t("ev_found_located", lang))
        if ev.get(K.FINDER_PHONE):
            out.append(t("ev_found_phone", lang))
    if kind == AlertKind.HOME_OFFLINE:
        out.append(t("ev_offline_will" if ev.get(K.WHY) == "last will" else "ev_offline_silence", lang))
    if room_id:
        out.append(t("ev_in", lang, room=room(room_id, lang)))
    if sensor and not out:
        out.append(t("ev_sensor", lang, sensor=sensor_word(sensor, lang)))
    return out


SENSOR_WORDS = (("gas", ("燃气探测器", "gas detector")), ("smoke", ("烟感", "smoke alarm")),
                ("door", ("门磁", "door sensor")), ("sos", ("紧急按钮", "SOS button")),
                ("water", ("水浸探测器", "water sensor")), ("bed", ("床旁雷达", "bed radar")),
                ("fall", ("跌倒雷达", "fall radar")), ("radar", ("雷达", "radar")))


def sensor_word(sensor_id: str, lang: str) -> str:
    """A box names its sensors by id ("kitchen_gas"): the page names the kind of device."""
    low = sensor_id.lower()
    for part, (zh, en) in SENSOR_WORDS:
        if part in low:
            return en if lang == "en" else zh
    return sensor_id if lang == "en" else "传感器"
