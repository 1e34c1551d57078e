"""The home's own history, kept on the box and pruned by age (``history_days``): its events and
daily summaries. After a restart the estimators learn from it (a resident's usual resting heart
rate, the usual length of their outings)."""

from __future__ import annotations

import json

from eldergate.gateway.delivery.state_db import StateDb
from eldergate.signal.model import Event
from eldergate.signal.summary import DailySummary


class HomeHistory(StateDb):
    def remember(self, item: Event | DailySummary) -> None:
        """An event (written with the next batch) or a day's summary."""
        if isinstance(item, Event):
            with self._lock:
                self._pending_events.append((item.t, str(item.name), item.resident, json.dumps(item.to_json())))
            self._maybe_flush()
        else:
            with self._lock:
                self._write(lambda db: db.execute("INSERT OR REPLACE INTO summaries VALUES (?, ?, ?)",
                                                  (item.resident, item.period_end, json.dumps(item.to_json()))))

    def resting_heart_rates(self, since: float) -> dict[str, float]:
        """Each resident's latest resting heart rate among the summaries kept that end after
        ``since``: after a restart, the heart estimator's usual rate (gateway/core/home.py)."""
        with self._lock:
            rows = self._read("SELECT resident, body FROM summaries WHERE period_end >= ? ORDER BY period_end",
                              (since,))
        rates: dict[str, float] = {}
        for resident, body in rows:
            bpm = json.loads(body).get("resting_heart_rate_bpm")
            if isinstance(bpm, (int, float)):
                rates[resident] = float(bpm)
        return rates

    def outings(self, since: float) -> dict[str, list[tuple[float, float]]]:
        """Each resident's outings (start, seconds out) among the events kept since ``since``: after
        a restart, what the outing watch learns the usual length from (signal/outings.py)."""
        with self._lock:
            rows = self._read("SELECT resident, body FROM events WHERE name = 'came_back' AND t >= ? ORDER BY t",
                              (since,))
        out: dict[str, list[tuple[float, float]]] = {}
        for resident, body in rows:
            details = json.loads(body).get("details", {})
            start, minutes = details.get("started"), details.get("out_min")
            if isinstance(start, (int, float)) and isinstance(minutes, (int, float)):
                out.setdefault(resident, []).append((float(start), float(minutes) * 60.0))
        return out

    def event_count(self) -> int:
        with self._lock:
            return int(self._read("SELECT count(*) FROM events")[0][0])
