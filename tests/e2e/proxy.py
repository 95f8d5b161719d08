"""A recording HTTP proxy: put it between a client and a registry to see the requests made.

The ``Host`` header passes through unchanged, so the registry builds its ``Location`` URLs for the
proxy's address and the client keeps talking through it. Request bodies are streamed (chunked
ones are re-chunked), responses are relayed as they come.

As a front door: ``routes`` sends paths under a prefix to another upstream (a token server
beside the registry), and ``headers`` are added to every relayed request (``X-Forwarded-Proto``).
"""

from __future__ import annotations

import http.client
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-connection"}


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    status: int
    body_bytes: int


def _chunks(rfile):
    while True:
        size = int(rfile.readline().split(b";")[0].strip(), 16)
        if size == 0:
            while rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return
        yield rfile.read(size)
        rfile.readline()


class RecordingProxy:
    def __init__(self, upstream_port: int, routes: dict[str, int] | None = None,
                 headers: dict[str, str] | None = None):
        self.upstream_port = upstream_port
        self.routes = routes or {}
        self.headers = headers or {}
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _relay(self):
                headers: dict[str, str] = {}
                for k, v in self.headers.items():
                    if k.lower() not in HOP_BY_HOP:
                        # Repeated lines (skopeo sends one Accept per media type) are one list.
                        headers[k] = f"{headers[k]}, {v}" if k in headers else v
                headers.update(proxy.headers)
                conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream(self.path), timeout=60)
                counted = 0
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    def body():
                        nonlocal counted
                        for chunk in _chunks(self.rfile):
                            counted += len(chunk)
                            yield chunk
                    conn.request(self.command, self.path, body=body(), headers=headers,
                                 encode_chunked=True)
                else:
                    length = int(self.headers.get("Content-Length") or 0)
                    data = self.rfile.read(length) if length else None
                    counted = length
                    conn.request(self.command, self.path, body=data, headers=headers)
                resp = conn.getresponse()
                payload = resp.read()
                self.send_response_only(resp.status, resp.reason)
                for k, v in resp.getheaders():
                    if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
                        self.send_header(k, v)
                if self.command == "HEAD":
                    length = resp.getheader("Content-Length")
                    if length is not None:
                        self.send_header("Content-Length", length)
                else:
                    self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)
                conn.close()
                url = urlsplit(self.path)
                with proxy._lock:
                    proxy.seen.append(
                        Seen(self.command, url.path, parse_qs(url.query), resp.status, counted)
                    )

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _relay

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def upstream(self, target: str) -> int:
        path = urlsplit(target).path
        return next((port for prefix, port in self.routes.items() if path.startswith(prefix)),
                    self.upstream_port)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> RecordingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
