"""``eldergate community simulate``: many homes at the contract level, for the demo and for load.

Each simulated home speaks the contract (docs/contract.md) on its own topics: a status, 30 days
of daily summaries (a few homes with a shift in the last three nights, so the advisories have
something to say), last night's and today's bed, sleep and door events, vitals every few seconds
while in bed, and now and then an alert. Most homes are quiet; one goes offline. Names never
travel: residents are ids, as from a real gateway.
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from eldergate.contract.messages import topic

DAY = 86400.0


@dataclass
class SimHome:
    gateway: str
    resident: str
    seed: int
    shift: str = ""  # "" | night_exits | sleep: a change in the last three nights
    offline: bool = False
    in_bed: bool = True
    stale: bool = False  # in bed, but its radar has said nothing for ten minutes


class Simulator:
    def __init__(self, broker_url: str, site: str, gateways: list[str], prefix: str = "eldergate/v1",
                 seed: int = 7, credentials: Path | None = None) -> None:
        from urllib.parse import urlsplit

        parts = urlsplit(broker_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 1883
        self.site, self.prefix = site, prefix
        rng = random.Random(seed)
        self.homes = [SimHome(g, "r1", rng.randrange(1 << 30)) for g in gateways]
        if len(self.homes) >= 4:
            self.homes[1].shift = "night_exits"
            self.homes[2].shift = "sleep"
            self.homes[3].offline = True
        for h in self.homes[4:]:
            h.in_bed = rng.random() < 0.6
        if len(self.homes) >= 8:
            self.homes[7].in_bed, self.homes[7].stale = True, True
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"eldergate-sim-{site}-{seed}",
                                  protocol=mqtt.MQTTv5)
        self.client.max_queued_messages_set(0)
        if credentials is not None:  # a site-wide identity (eldergate community identities issue --site-wide)
            user, password = credentials.read_text().splitlines()[:2]
            self.client.username_pw_set(user.strip(), password.strip())
        self.stop = threading.Event()
        self.sent = 0

    def _pub(self, home: SimHome, leaf: str, body: dict[str, Any], retain: bool = False) -> None:
        msg = {"v": 1, "site": self.site, "gateway": home.gateway, "sent_at": time.time(), **body}
        self.client.publish(topic(self.prefix, self.site, home.gateway, leaf), json.dumps(msg, ensure_ascii=False),
                            qos=1, retain=retain)
        self.sent += 1

    def _history(self, h: SimHome, now: float) -> None:
        rng = random.Random(h.seed)
        base_exits, base_sleep, base_hr = rng.choice([0, 1, 1, 2]), rng.uniform(380, 480), rng.uniform(58, 72)
        base_active = rng.uniform(120, 260)
        for d in range(30, 0, -1):
            end = now - (d - 1) * DAY - (now % DAY) + 23 * 3600  # each morning at 07:00 Beijing (23:00 UTC)
            if end > now:
                end -= DAY
            recent = d <= 3
            exits = base_exits + rng.choice([0, 0, 1]) + (4 if recent and h.shift == "night_exits" else 0)
            sleep = base_sleep * rng.uniform(0.92, 1.05) * (0.45 if recent and h.shift == "sleep" else 1.0)
            figures = {"bed_exits": exits + 2, "night_bed_exits": exits, "turnovers": rng.randrange(6, 18),
                       "sleep_min": round(sleep, 1), "nap_min": round(rng.uniform(0, 60), 1),
                       "resting_heart_rate_bpm": round(base_hr + rng.uniform(-2, 2), 1),
                       "resting_breathing_rate_bpm": round(rng.uniform(13, 17), 1),
                       "active_min": round(base_active * rng.uniform(0.85, 1.1), 1), "falls": 0, "events": []}
            self._pub(h, "summary", {"resident": h.resident, "period_start": end - DAY, "period_end": end,
                                     "figures": figures})

    def _last_night(self, h: SimHome, now: float) -> None:
        rng = random.Random(h.seed + 1)
        t = now - rng.uniform(9, 11) * 3600
        for name in ("bed_entry", "sleep_start"):
            self._pub(h, "events", {"t": t, "name": name, "resident": h.resident, "room": "bedroom"})
            t += rng.uniform(300, 1200)
        for _ in range(rng.randrange(4, 12)):
            t += rng.uniform(900, 2400)
            self._pub(h, "events", {"t": t, "name": "turnover", "resident": h.resident, "room": "bedroom"})
        if not h.in_bed:
            for name in ("sleep_end", "bed_exit"):
                t = min(now - 60, t + rng.uniform(600, 1800))
                self._pub(h, "events", {"t": t, "name": name, "resident": h.resident, "room": "bedroom"})

    def start(self) -> None:
        self.client.connect(self.host, self.port, 30)
        self.client.loop_start()
        now = time.time()
        for h in self.homes:
            self._pub(h, "status", {"state": "online", "version": "sim"}, retain=True)
            self._history(h, now)
            self._last_night(h, now)
            if h.stale:
                self._pub(h, "vitals", {"t": now - 600, "resident": h.resident, "heart_rate_bpm": 66,
                                        "breathing_rate_bpm": 15, "quality": 0.7, "in_bed": True})
        threading.Thread(target=self._live, name="eg-sim-live", daemon=True).start()

    def _live(self) -> None:
        rng = random.Random(11)
        start = time.monotonic()
        script = [(8.0, self._offline), (20.0, self._gas), (32.0, self._night_exit)]
        while not self.stop.wait(4.0):
            now = time.time()
            for h in self.homes:
                if (h.offline and time.monotonic() - start > 8.0) or h.stale:
                    continue
                hr = round(60 + 10 * rng.random()) if h.in_bed else None
                br = round(13 + 4 * rng.random()) if h.in_bed else None
                self._pub(h, "vitals", {"t": now, "resident": h.resident, "heart_rate_bpm": hr,
                                        "breathing_rate_bpm": br, "quality": 0.8 if h.in_bed else None,
                                        "in_bed": h.in_bed})
            elapsed = time.monotonic() - start
            while script and script[0][0] <= elapsed:
                script.pop(0)[1]()

    def _offline(self) -> None:
        for h in self.homes:
            if h.offline:  # what its last will would say
                self._pub(h, "status", {"state": "offline"}, retain=True)

    def _alert(self, h: SimHome, kind: str, severity: str, zh: str, en: str, room: str,
               evidence: dict[str, Any]) -> None:
        now = time.time()
        self._pub(h, "alerts", {"id": f"{h.gateway}-{kind}-{int(now)}", "kind": kind, "severity": severity,
                                "state": "raised", "resident": h.resident, "room": room, "sensor": f"{kind}1",
                                "started": now, "raised_at": now, "title_zh": zh, "title_en": en,
                                "evidence": evidence})

    def _gas(self) -> None:
        if len(self.homes) > 5:
            self._alert(self.homes[5], "gas", "critical", "燃气泄漏", "gas leak", "kitchen", {"event": "gas"})

    def _night_exit(self) -> None:
        if len(self.homes) > 6:
            h = self.homes[6]
            self._alert(h, "out_of_bed_at_night", "warning", "夜间离床过久", "out of bed at night", "bedroom",
                        {"event": "out_of_bed_at_night", "out_of_bed_min": 25})

    def close(self) -> None:
        self.stop.set()
        self.client.disconnect()
        self.client.loop_stop()


def run(broker_url: str, site: str, gateways: list[str], duration_s: float | None,
        credentials: Path | None = None) -> int:
    sim = Simulator(broker_url, site, gateways, credentials=credentials)
    sim.start()
    try:
        if duration_s is None:
            threading.Event().wait()
        else:
            time.sleep(duration_s)
    finally:
        sim.close()
    return sim.sent
