"""The notifier's debug HTTP server: ``/metrics`` (Prometheus) and ``/debug/health``."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from shared.debug_http import BoundedThreadingMixIn
from shared.metrics import render_latest


class DebugHTTPServer(BoundedThreadingMixIn, HTTPServer):
    """Bounded threads and time per connection (see shared.debug_http)."""


def parse_addr(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)


def start_debug_server(addr: str, health: Callable[[], dict[str, Any]],
                       metrics_path: str = "/metrics") -> HTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            path = self.path.split("?", 1)[0]
            if path in (metrics_path, "/metrics"):
                body, content_type = render_latest()
                status = 200
            elif path == "/debug/health":
                report = health()
                body = json.dumps(report).encode()
                content_type = "application/json"
                status = 200 if report.get("healthy") else 503
            else:
                body, content_type, status = b"not found\n", "text/plain", 404
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return  # scrapes every few seconds would drown the delivery log

    server = DebugHTTPServer(parse_addr(addr), Handler)
    threading.Thread(target=server.serve_forever, name="debug-http", daemon=True).start()
    return server
