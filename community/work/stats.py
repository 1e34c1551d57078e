"""Response times: to receipt, acknowledgement, arrival and resolution; the share within the
community's targets; the list of misses; false-alarm rates per kind and per home from the
outcome codes. Test alerts are left out."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from eldergate.community.models import Alert


def _secs(a: datetime | None, b: datetime | None) -> float | None:
    return None if a is None or b is None else max(0.0, (b - a).total_seconds())


def _summary(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "median_s": None, "p90_s": None}
    values = sorted(values)
    return {"n": len(values), "median_s": round(statistics.median(values), 1),
            "p90_s": round(values[min(len(values) - 1, int(0.9 * len(values)))], 1)}


def response(alerts: QuerySet[Alert], since: datetime | None, until: datetime | None) -> dict[str, Any]:
    qs = alerts.filter(test=False).select_related("community", "resident__home")
    if since is not None:
        qs = qs.filter(raised_at__gte=since)
    if until is not None:
        qs = qs.filter(raised_at__lt=until)
    times: dict[str, list[float]] = defaultdict(list)
    misses: list[dict[str, Any]] = []
    within = {"acknowledge": [0, 0], "arrive": [0, 0]}
    outcomes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    per_home: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for a in qs:
        t0 = a.raised_at
        for name, t in (("receipt", a.received_at), ("acknowledge", a.acknowledged_at),
                        ("arrive", a.arrived_at), ("resolve", a.resolved_at)):
            s = _secs(t0, t)
            if s is not None:
                times[name].append(s)
        if a.community is not None and a.severity == "critical":
            for name, t, target in (("acknowledge", a.acknowledged_at, a.community.ack_target_s),
                                    ("arrive", a.arrived_at, a.community.arrive_target_s)):
                s = _secs(t0, t)
                if name == "arrive" and s is None and a.outcome in ("false_alarm", "resident_fine"):
                    continue  # nobody had to go
                within[name][1] += 1
                if s is not None and s <= target:
                    within[name][0] += 1
                else:
                    misses.append({"alert": a.alert_id, "kind": a.kind, "step": name, "target_s": target,
                                   "took_s": s, "outcome": a.outcome or None})
        if a.outcome:
            outcomes[a.kind][a.outcome] += 1
            home = str(a.resident.home_id) if a.resident else f"gateway {a.gateway_id}"
            per_home[home]["closed"] += 1
            per_home[home]["false"] += a.outcome == "false_alarm"

    def rate(d: dict[str, int]) -> float | None:
        n = sum(d.values())
        return round(d.get("false_alarm", 0) / n, 3) if n else None

    return {
        "alerts": qs.count(),
        "times": {k: _summary(v) for k, v in times.items()},
        "within_target": {k: {"within": w, "of": n, "share": round(w / n, 3) if n else None}
                          for k, (w, n) in within.items()},
        "misses": misses,
        "false_alarm_rate_by_kind": {k: rate(v) for k, v in outcomes.items()},
        "outcomes_by_kind": {k: dict(v) for k, v in outcomes.items()},
        "false_alarm_rate_by_home": {h: round(v["false"] / v["closed"], 3) for h, v in per_home.items()},
    }
