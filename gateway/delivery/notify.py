"""Push to the resident's contacts with Apprise, and escalation along the contact list.

* **Who pages** (docs/alert-lifecycle.md, "Who is paged"): in a home with a community server,
  the server's ladder. The box holds an alert's first wave for ``handover_after`` and drops it
  when the server's receipt comes (``on_delivered``); without a receipt by then the server cannot
  be reached, and the box pages. Once the server has an alert the box paged, its ladder takes
  over, told (through the alert's ``paged`` roles) whom the box paged, so that nobody is paged
  twice for one step. ``first_ring``: the box pages its first wave at once as well. A home
  without a server pages everyone itself.
* The first wave: a **critical** alert notifies the grid worker(s) and the relatives; a warning
  or an info the grid worker only (sensor health never goes to relatives).
* While the box pages, an alert not acknowledged within the resident's ``escalate_after``
  reaches the next contact in the list that has not been told, and the community duty desk;
  again after each further interval, until everyone has been told. An acknowledgement (from the
  community server or the console), the alert's resolution or the server taking over stops it.
* Texts say who, where, what and how urgent, in Chinese first (the gateway's language),
  with English beneath; never medical details or raw numbers.
* Relatives get the morning summary in plain words.

Sending happens on a worker thread so that a slow push service never holds up the core
loop; a failed send is logged by the contact's role and position, never by its address.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from eldergate.config.schema import Config, Contact, Resident
from eldergate.config.secrets import SecretError, read_secret
from eldergate.gateway.core.alerts import Alert, AlertKind, AlertState, Severity
from eldergate.gateway.core.supervisor import Guard, unguarded
from eldergate.gateway.core.texts import alert_name, severity_name
from eldergate.signal.summary import DailySummary

log = logging.getLogger(__name__)

Send = Callable[[str, str, str], bool]  # (url, title, body) -> delivered
_HEALTH = {AlertKind.SENSOR_OFFLINE, AlertKind.LOW_BATTERY, AlertKind.TAMPER,
           AlertKind.TEST, AlertKind.STORAGE_FAULT}


def apprise_send(url: str, title: str, body: str) -> bool:
    import apprise  # imported only when a push is actually sent (memory, start-up time)

    ap = apprise.Apprise()
    if not ap.add(url):
        return False
    return bool(ap.notify(body=body, title=title))


@dataclass
class Escalation:
    alert: Alert
    next_at: float
    told: set[int] = field(default_factory=set)  # contact indexes already notified
    exhausted: bool = False  # everyone told: no more escalation, but the resolution is still pushed
    held_until: float | None = None  # the first wave waits for the server's receipt until then
    handed_over: bool = False  # the server has it: its ladder goes on; the box only tells those it told


Paged = tuple[str, tuple[str, ...]]  # (alert id, the roles of the contacts the box has just paged)


@dataclass(frozen=True, slots=True)
class Recipient:
    index: int
    role: str
    url: str


class Notifier:
    def __init__(self, cfg: Config, send: Send = apprise_send, rooms: dict[str, str] | None = None,
                 guard: Guard = unguarded) -> None:
        self.cfg = cfg
        self.lang = cfg.gateway.language
        self.tz = ZoneInfo(cfg.gateway.timezone)
        self.send = guard("push", send)  # a push service's bug is a failed push, never a dead worker
        self.rooms = rooms or cfg.room_names()
        self.residents = {r.id: r for r in cfg.residents}
        self.server = cfg.uplink is not None and cfg.uplink.enabled  # a community server's ladder pages
        self.first_ring = cfg.notifications.box_pages == "first_ring"
        self.handover_after = cfg.notifications.handover_after
        self.recipients = {r.id: self._recipients(r) for r in cfg.residents}
        self.active: dict[str, Escalation] = {}
        self.history: dict[str, dict[str, Alert]] = {}  # resident -> alert id -> latest state
        self.sent: list[tuple[str, str, str]] = []  # (role, alert id or "summary", title): for tests and status
        self._jobs: queue.Queue[tuple[Recipient, str, str, str] | None] = queue.Queue(maxsize=1000)
        self._worker = threading.Thread(target=self._drain, name="eg-notify", daemon=True)
        self._worker.start()

    def _recipients(self, r: Resident) -> list[Recipient]:
        out = []
        for i, c in enumerate(r.contacts):
            url = contact_address(c)
            if url is None:
                log.error("resident %s contact %d (%s): no readable notification address", r.id, i, c.role)
                continue
            out.append(Recipient(i, c.role, url))
        return out

    # -- inputs from the core loop ----------------------------------------------------------

    def on_alert(self, a: Alert, now: float) -> None:
        self._remember(a)
        if a.state in (AlertState.ACKNOWLEDGED, AlertState.RESOLVED):
            esc = self.active.pop(a.id, None)
            if esc is not None and a.state == AlertState.RESOLVED and a.kind not in _HEALTH:
                self._tell(esc, self._all_told(esc), a, resolved=True)
            elif esc is not None and a.state == AlertState.ACKNOWLEDGED:
                # the relatives who were paged hear that someone is on it
                relatives = [p for p in self._all_told(esc) if p.role == "relative"]
                self._tell(esc, relatives, a, acknowledged=True)
            return
        if a.state != AlertState.RAISED or a.id in self.active or a.resident not in self.recipients:
            return
        esc = Escalation(a, now + self._interval(a))
        if self.pages_at_once(a):
            self._tell(esc, self._first_wave(a), a)
        else:
            esc.held_until = now + self.handover_after
        self.active[a.id] = esc

    def pages_at_once(self, a: Alert) -> tuple[str, ...]:
        """The roles the box pages the moment ``a`` is raised (none: the server's ladder will, or
        the box after ``handover_after``). Asked before the alert is stored, so that its first
        message to the server already says whom the box paged."""
        if a.state != AlertState.RAISED or a.resident not in self.recipients or (self.server and not self.first_ring):
            return ()
        return _roles(self._first_wave(a))

    def on_delivered(self, alert_id: str) -> None:
        """The community server has the alert: its ladder pages from now on."""
        esc = self.active.get(alert_id)
        if esc is None or not self.server:
            return
        if not esc.told:
            del self.active[alert_id]
            log.info("alert %s: the community server has it; its ladder pages", alert_id)
        elif not esc.handed_over:
            esc.handed_over = True  # those the box told still hear of an acknowledgement and the end
            log.info("alert %s: the community server has it; its ladder goes on after the %d contact(s) the box paged",
                     alert_id, len(esc.told))

    def resume(self, alerts: list[Alert], now: float) -> None:
        """After a restart: paging goes on for the open alerts nobody has acknowledged, from what
        each alert says the box paged (``paged``); the next step comes one interval from now."""
        for a in alerts:
            if a.state not in (AlertState.RAISED, AlertState.DELIVERED) or a.resident not in self.recipients:
                continue
            told = {p.index for p in self.recipients[a.resident] if p.role in a.paged}
            esc = Escalation(a, now + self._interval(a), told)
            if a.state == AlertState.DELIVERED and self.server:
                if not told:
                    continue  # the server's ladder has it
                esc.handed_over = True
            elif not told and (not self.server or self.first_ring):
                esc.told = {p.index for p in self._first_wave(a)}  # paged when raised (stored before "paged" was)
            elif not told:
                esc.held_until = now + self.handover_after  # the uplink gets its window again
            self.active[a.id] = esc

    def _interval(self, a: Alert) -> float:
        return self.residents[a.resident].thresholds.escalate_after

    def _first_wave(self, a: Alert) -> list[Recipient]:
        first = [p for p in self.recipients[a.resident]
                 if p.role == "grid_worker" or (a.severity == Severity.CRITICAL and p.role == "relative"
                                                and a.kind not in _HEALTH)]
        return first or self._reachable(a)[:1]  # nobody in those roles: the first contact who may hear of it

    def _reachable(self, a: Alert) -> list[Recipient]:
        """Device health (a sensor offline, a battery) goes to the grid worker and the installer side,
        never to relatives."""
        return [p for p in self.recipients[a.resident] if not (a.kind in _HEALTH and p.role == "relative")]

    def tick(self, now: float) -> list[Paged]:
        """Page whoever is due; returns whom the box has just paged, per alert (the runtime stores
        it with the alert, which tells the server)."""
        paged: list[Paged] = []
        for esc in list(self.active.values()):
            if esc.held_until is not None:
                if now < esc.held_until:
                    continue
                esc.held_until = None
                log.warning("alert %s: no receipt from the community server after %.0f s: the box pages its contacts",
                            esc.alert.id, self.handover_after)
                first = self._first_wave(esc.alert)
                self._tell(esc, first, esc.alert)
                esc.next_at = now + self._interval(esc.alert)
                paged.append((esc.alert.id, _roles(first)))
                continue
            if esc.exhausted or esc.handed_over or now < esc.next_at:
                continue
            people = self._reachable(esc.alert)
            nxt = [p for p in people if p.index not in esc.told and p.role != "duty_desk"][:1]
            desk = [p for p in people if p.role == "duty_desk" and p.index not in esc.told]
            if not nxt and not desk:
                esc.exhausted = True  # everyone has been told; the console keeps the alert open
                continue
            log.warning("alert %s not acknowledged after %.0f s: escalating", esc.alert.id,
                        now - esc.alert.raised_at)
            self._tell(esc, nxt + desk, esc.alert, escalated=True)
            esc.next_at = now + self._interval(esc.alert)
            paged.append((esc.alert.id, _roles(nxt + desk)))
        return paged

    def on_summary(self, s: DailySummary) -> None:
        for p in self.recipients.get(s.resident, []):
            if p.role == "relative":
                title, body = self.summary_text(s)
                self._queue(p, "summary", title, body)

    # -- texts ---------------------------------------------------------------------------------

    def alert_text(self, a: Alert, escalated: bool = False, resolved: bool = False,
                   acknowledged: bool = False) -> tuple[str, str]:
        who = self.residents[a.resident].display_name if a.resident in self.residents else a.resident
        room = self.rooms.get(a.room, a.room)
        when = datetime.fromtimestamp(a.raised_at, self.tz).strftime("%H:%M")
        what_zh, what_en = alert_name(a.kind, "zh-hans"), alert_name(a.kind, "en")
        if a.kind in _HEALTH and a.sensor:  # which device, and where: the installer goes to that one
            what_zh, what_en = f"{what_zh}（{room} {a.sensor}）", f"{what_en} ({a.sensor} in {room})"
        if acknowledged:
            by = a.acknowledged_by or "社区"
            return (f"【已有人处理】{who} {what_zh}", f"{who}：{what_zh}，{by} 已确认并处理。\n"
                                                    f"{who}: {what_en}, acknowledged by {by}.")
        sev_zh, sev_en = severity_name(a.severity, "zh-hans"), severity_name(a.severity, "en")
        if resolved:
            return (f"【已解除】{who} {what_zh}", f"{who}：{what_zh}已解除。\n{who}: {what_en} is over.")
        ask_zh = "请立即联系或上门查看。" if a.severity == Severity.CRITICAL else "请尽快确认。"
        ask_en = "Please call or visit now." if a.severity == Severity.CRITICAL else "Please check soon."
        up_zh = "（无人确认，已升级）" if escalated else ""
        up_en = " (not acknowledged: escalated)" if escalated else ""
        title = f"【{sev_zh}】{who} {what_zh}{up_zh}"
        address = self.cfg.gateway.address
        where_zh, where_en = (f"地址：{address}。", f" Address: {address}.") if address else ("", "")
        body = (f"{who}，{room}，{when}：{what_zh}。{where_zh}{ask_zh}\n"
                f"{sev_en.upper()}: {who}, {room}, {when}: {what_en}{up_en}.{where_en} {ask_en}")
        if self.lang == "en":
            title = f"[{sev_en.upper()}] {who}: {what_en}{up_en}"
        return title, body

    def summary_text(self, s: DailySummary) -> tuple[str, str]:
        who = self.residents[s.resident].display_name if s.resident in self.residents else s.resident
        hours = s.sleep_min / 60
        title = f"{who} 的早安报告 / morning summary"
        happened = self._alerts_between(s.resident, s.period_start, s.period_end)
        if s.did_not_go_to_bed:
            zh = f"{who} 昨晚没有上床，整夜在家中（可能在椅子上睡着了），白天活动约 {s.active_min:.0f} 分钟。"
            en = (f"{who} did not go to bed last night and stayed up at home (perhaps asleep in a chair); "
                  f"active for about {s.active_min:.0f} minutes.")
        else:
            zh = (f"{who} 昨晚睡了约 {hours:.1f} 小时，夜间起床 {s.night_bed_exits} 次，"
                  f"白天活动约 {s.active_min:.0f} 分钟。"
                  + ("" if happened or s.falls else "一切正常。"))
            en = (f"{who} slept about {hours:.1f} hours, got up {s.night_bed_exits} time(s) in the night and was "
                  f"active for about {s.active_min:.0f} minutes." + ("" if happened or s.falls else " All is well."))
        for a in happened:  # every alert of the period, and what became of it, in plain words
            when = datetime.fromtimestamp(a.raised_at, self.tz).strftime("%H:%M")
            if a.state == AlertState.RESOLVED:
                zh_done, en_done = "已解除", "over"
            elif a.acknowledged_by:
                zh_done, en_done = f"{a.acknowledged_by} 已确认", f"acknowledged by {a.acknowledged_by}"
            else:
                zh_done, en_done = "尚未处理", "still open"
            zh += f"\n{when} {alert_name(a.kind, 'zh-hans')}：{zh_done}。"
            en += f"\n{when} {alert_name(a.kind, 'en')}: {en_done}."
        return title, f"{zh}\n{en}"

    def _remember(self, a: Alert) -> None:
        """The latest state of each alert of the last two days, for the morning summary's words."""
        if a.kind in _HEALTH:
            return
        kept = self.history.setdefault(a.resident, {})
        kept[a.id] = a
        horizon = a.raised_at - 2 * 86400
        for aid in [aid for aid, old in kept.items() if old.raised_at < horizon]:
            del kept[aid]

    def _alerts_between(self, resident: str, start: float, end: float) -> list[Alert]:
        return sorted((a for a in self.history.get(resident, {}).values() if start <= a.raised_at < end),
                      key=lambda a: a.raised_at)

    # -- sending -------------------------------------------------------------------------------

    def _all_told(self, esc: Escalation) -> list[Recipient]:
        return [p for p in self.recipients[esc.alert.resident] if p.index in esc.told]

    def _tell(self, esc: Escalation, people: list[Recipient], a: Alert, escalated: bool = False,
              resolved: bool = False, acknowledged: bool = False) -> None:
        title, body = self.alert_text(a, escalated, resolved, acknowledged)
        for p in people:
            esc.told.add(p.index)
            self._queue(p, a.id, title, body)

    def _queue(self, p: Recipient, what: str, title: str, body: str) -> None:
        try:
            self._jobs.put_nowait((p, what, title, body))
        except queue.Full:
            log.error("push queue full: a notification to contact %d (%s) was not sent", p.index, p.role)

    def _drain(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            p, what, title, body = job
            try:
                ok = self.send(p.url, title, body)
            except OSError as err:
                ok = False
                log.error("push to contact %d (%s) failed: %s", p.index, p.role, err)
            if ok:
                self.sent.append((p.role, what, title))
            else:
                log.error("push to contact %d (%s) was not delivered", p.index, p.role)
            self._jobs.task_done()

    def alive(self) -> bool:
        return self._worker.is_alive()

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until queued notifications are sent (tests, shutdown)."""
        done = threading.Event()

        def wait() -> None:
            self._jobs.join()
            done.set()

        threading.Thread(target=wait, daemon=True).start()
        done.wait(timeout)

    def close(self) -> None:
        self.flush(5.0)
        self._jobs.put(None)


def _roles(people: list[Recipient]) -> tuple[str, ...]:
    return tuple(sorted({p.role for p in people}))


def contact_address(c: Contact) -> str | None:
    if c.notify is not None:
        return c.notify.get_secret_value()
    try:
        return read_secret(c.notify_file, c.notify_env)
    except SecretError:
        return None
