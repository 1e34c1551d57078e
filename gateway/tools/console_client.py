"""``eldergate console --server URL``: the community server's open alerts in a terminal, for a grid
worker without a browser; type ``ack ID`` (or ``ack`` for the newest) to acknowledge.

A client of the server's API (docs/openapi.json), nothing more: the server keeps the record and
sends the acknowledgement on to the gateway until it confirms.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


class ApiError(Exception):
    pass


class ConsoleClient:
    def __init__(self, server: str, token: str, timeout_s: float = 10.0) -> None:
        self.base = server.rstrip("/")
        self.token, self.timeout_s = token, timeout_s

    def _call(self, path: str, method: str = "GET") -> Any:
        url = path if path.startswith("http") else f"{self.base}/api/v1{path}"
        req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None,
                                     headers={"Authorization": f"Bearer {self.token}"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as err:
            detail = err.read().decode("utf-8", "replace")
            try:
                detail = json.loads(detail).get("detail", detail)
            except ValueError:
                pass
            raise ApiError(f"{err.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as err:
            raise ApiError(f"cannot reach {self.base}: {getattr(err, 'reason', err)}") from None

    def open_alerts(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        url: str | None = "/alerts?state=open&limit=500"
        while url:
            page = self._call(url)
            items += page["items"]
            url = page["next"]
        return items

    def acknowledge(self, alert_id: str) -> dict[str, Any]:
        return dict(self._call(f"/alerts/{alert_id}/acknowledge", "POST"))


def render(alerts: list[dict[str, Any]]) -> str:
    if not alerts:
        return "(no open alerts)"
    lines = []
    for a in sorted(alerts, key=lambda a: (a["severity"] != "critical", -a["age_s"])):
        who = f" — acknowledged by {a['acknowledged_by']}" if a["acknowledged_by"] else ""
        lines.append(f"⚠ {a['severity']:<8} {a['title_zh']} ({a['title_en']}) {a['site']}/{a['gateway']}/"
                     f"{a['resident']} {a['state']} {int(a['age_s'] // 60)} min{who}  id {a.get('ref', a['id'])}")
    return "\n".join(lines)
