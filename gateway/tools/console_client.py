"""``eldergate console --server URL``: the community server's open alerts in a terminal, for a grid
worker without a browser; type ``ack ID`` (or ``ack`` for the newest) to acknowledge.

A client of the server's API (docs/openapi.json), nothing more: the server keeps the record and
sends the acknowledgement on to the gateway until it confirms.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import urllib.error
import urllib.request
from typing import Any

from eldergate.gateway.tools.signals import stop_on_signals


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


EXIT_OK, EXIT_CONFIG = 0, 2


def cmd_console(args: argparse.Namespace) -> int:
    """Type "ack ID" (or "ack" for the newest unacknowledged alert) and Enter to acknowledge."""
    if args.token_file is not None:
        try:
            token = args.token_file.read_text().strip()
        except OSError as err:
            print(f"eldergate: --token-file: cannot read {args.token_file}: {err.strerror}", file=sys.stderr)
            return EXIT_CONFIG
    else:
        token = os.environ.get(args.token_env, "")
    if not token:
        print(f"eldergate: no API token: give --token-file or set {args.token_env}", file=sys.stderr)
        return EXIT_CONFIG
    client = ConsoleClient(args.server, token)
    stop = threading.Event()
    stop_on_signals(stop.set)
    if args.duration:
        threading.Timer(args.duration, stop.set).start()
    latest: list[dict[str, object]] = []
    if sys.stdin is not None and sys.stdin.isatty():
        threading.Thread(target=_console_input, args=(client, latest, stop), daemon=True).start()
    shown: dict[str, str] = {}
    last_error = ""
    while not stop.is_set():
        try:
            alerts = client.open_alerts()
            last_error = ""
        except ApiError as err:
            if str(err) != last_error:  # said once, not every few seconds
                print(f"eldergate console: {err}", file=sys.stderr, flush=True)
                last_error = str(err)
            if str(err).startswith("401"):
                return EXIT_CONFIG
            stop.wait(args.every)
            continue
        latest[:] = alerts
        now = {str(a["id"]): f"{a['state']}|{a['acknowledged_by']}" for a in alerts}
        if args.json:
            for a in alerts:
                if shown.get(str(a["id"])) != now[str(a["id"])]:
                    print(json.dumps(a, ensure_ascii=False), flush=True)
        elif now != shown:
            print(render(alerts), flush=True)
        shown = now
        stop.wait(args.every)
    return EXIT_OK


def _console_input(client: object, latest: list[dict[str, object]], stop: threading.Event) -> None:
    assert isinstance(client, ConsoleClient)
    for line in sys.stdin:
        parts = line.split()
        if parts[:1] != ["ack"]:
            continue
        waiting = [a for a in latest if not a.get("acknowledged_by")]
        chosen = [a for a in waiting if len(parts) < 2 or str(a["id"]).startswith(parts[1])]
        if not chosen:
            print("no such open, unacknowledged alert", flush=True)
            continue
        try:
            done = client.acknowledge(str(chosen[-1]["id"]))
            print(f"acknowledged {done['id']} ({done['title_en']})", flush=True)
        except ApiError as err:
            print(f"not acknowledged: {err}", flush=True)
