"""A local HTTP endpoint that records what Apprise's json:// posts to it."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class PushEndpoint:
    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []  # (path, JSON body)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.received.append((self.path, json.loads(body or b"{}")))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, who: str) -> str:
        return f"json://127.0.0.1:{self.port}/{who}"

    def who(self) -> list[str]:
        return [path.strip("/") for path, _ in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
