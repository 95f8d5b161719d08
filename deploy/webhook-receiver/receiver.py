"""An example webhook receiver for the registry's notifications: standard library only, so
compose runs it straight from the python image.

POST any path: checks the Authorization header against the file named by TOKEN_FILE (when set),
accepts the three body formats (a bare event, the reference's envelope, a CloudEvent) and logs
one line per event, followed by the event itself when PRINT_BODY=1 (`make run` sets it, so a
newcomer sees what a webhook carries). GET /events returns the last events received, newest last.
"""

from __future__ import annotations

import json
import os
import sys
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RECEIVED: deque = deque(maxlen=int(os.environ.get("KEEP_EVENTS", "100")))
PRINT_BODY = os.environ.get("PRINT_BODY", "") == "1"


def expected_authorization() -> str | None:
    path = os.environ.get("TOKEN_FILE")
    return open(path).read().strip() if path else None


def events_in(body: dict) -> list[dict]:
    if "events" in body:  # format: envelope
        return list(body["events"])
    if "specversion" in body:  # format: cloudevents
        return [body.get("data", {})]
    return [body]  # format: event


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        expected = expected_authorization()
        if expected is not None and self.headers.get("Authorization", "") != expected:
            self.answer(401, {"error": "bad or missing Authorization header"})
            return
        try:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            events = events_in(body)
        except (ValueError, TypeError, AttributeError):
            self.answer(400, {"error": "expected a JSON event"})
            return
        for event in events:
            RECEIVED.append(event)
            target = event.get("target", {})
            line = (f"event id={event.get('id')} action={event.get('action')} "
                    f"repository={target.get('repository')} tag={target.get('tag')}")
            if PRINT_BODY:
                line += "\n" + json.dumps(event, indent=2)
            print(line, flush=True)
        self.answer(200, {"received": len(events)})

    def do_GET(self) -> None:  # noqa: N802
        if self.path.rstrip("/") == "/events":
            self.answer(200, list(RECEIVED))
        else:
            self.answer(200, {"status": "ok"})

    def answer(self, code: int, payload: object) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # one line per event is enough
        pass


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
    print(f"webhook receiver listening on :{port} (GET /events lists what it received)",
          flush=True)
    ThreadingHTTPServer(("", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
