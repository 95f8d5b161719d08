"""One HTTP POST of one event to one endpoint: the last stage of the pipeline.

The POST goes through urllib3 directly (requests' own dependency): requests adds about 200 us of
CPU per call (settings merge, cookies, hooks, response wrapping) on top of urllib3, a fifth of a
notifier's whole per-event cost, and a notifier draining a backlog is CPU-bound. One
``PoolManager`` per endpoint keeps connections alive across deliveries (pool sized to the
endpoint's concurrency); retries and redirects are off, as before (a failed attempt is the retry
logic's business). Configured headers win over our defaults; header values are never logged or
put in an error message.
"""

from __future__ import annotations

import http
import time

import certifi
import urllib3
from urllib3.exceptions import (
    HTTPError,
    NewConnectionError,
    ProtocolError,
    SSLError,
)
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from services.notifier.formats import render
from services.notifier.metrics import HTTP_STATUS, REF_EVENTS, REF_STATUS
from services.notifier.outcomes import Delivered, Delivery, Failed, Outcome
from services.notifier.retry import parse_retry_after
from services.notifier.signing import signature
from shared.config import EndpointConfig

USER_AGENT = "registry-notifier/0.1"
RETRY_AFTER_STATUSES = (429, 503)


def status_text(code: int) -> str:
    """The reference's status label: ``202 Accepted``."""
    try:
        return f"{code} {http.HTTPStatus(code).phrase}"
    except ValueError:
        return str(code)


def make_pool(endpoint: EndpointConfig) -> urllib3.PoolManager:
    """Keep-alive connections for one endpoint, with its TLS settings. Server certificates are
    checked against certifi's bundle unless ``tls.ca`` names another (what requests did); the
    environment's proxy settings are not read (they are not what the config said)."""
    tls = endpoint.tls
    options: dict = {"num_pools": 4, "maxsize": max(endpoint.concurrency, 1), "retries": False}
    if tls.insecureskipverify:
        options["cert_reqs"] = "CERT_NONE"
    else:
        options["cert_reqs"] = "CERT_REQUIRED"
        options["ca_certs"] = tls.ca or certifi.where()
    if tls.certificate:
        options["cert_file"] = tls.certificate
        if tls.key:
            options["key_file"] = tls.key
    return urllib3.PoolManager(**options)


class HttpSink:
    """POSTs the event in the endpoint's format; 2xx is delivered, anything else failed."""

    def __init__(self, endpoint: EndpointConfig, pool: urllib3.PoolManager | None = None):
        self.endpoint = endpoint
        self.pool = pool or make_pool(endpoint)
        self.timeout = urllib3.Timeout(connect=endpoint.timeout, read=endpoint.timeout)
        self.configured_headers = {name: ", ".join(values)
                                   for name, values in endpoint.headers.items()}

    def request_headers(self, event_id: str, body: bytes, content_type: str) -> dict[str, str]:
        headers = {"Content-Type": content_type, "User-Agent": USER_AGENT}
        # Configured wins over the defaults above, whatever the case of its name.
        for name, value in self.configured_headers.items():
            for default in [d for d in headers if d.lower() == name.lower()]:
                del headers[default]
            headers[name] = value
        if self.endpoint.signing_secrets:
            stamp = int(time.time())
            headers["webhook-id"] = event_id
            headers["webhook-timestamp"] = str(stamp)
            headers["webhook-signature"] = signature(self.endpoint.signing_secrets, event_id,
                                                     stamp, body)
        return headers

    def deliver(self, delivery: Delivery) -> Outcome:
        name = self.endpoint.name
        body, content_type = render(self.endpoint.format, delivery.event, delivery.routing_key)
        headers = self.request_headers(str(delivery.event.get("id", "")), body, content_type)
        try:
            # preload_content reads the whole answer, so the connection goes back to the pool.
            response = self.pool.request(
                "POST", self.endpoint.url, body=body, headers=headers, timeout=self.timeout,
                redirect=False, retries=False, preload_content=True,
            )
        except (HTTPError, OSError, ValueError) as exc:
            REF_EVENTS.labels(type="Errors", endpoint=name).inc()
            return Failed(error=describe_error(exc))
        code = response.status
        HTTP_STATUS.labels(endpoint=name, code=str(code)).inc()
        REF_STATUS.labels(code=status_text(code), endpoint=name).inc()
        if 200 <= code < 300:
            REF_EVENTS.labels(type="Successes", endpoint=name).inc()
            return Delivered(code)
        REF_EVENTS.labels(type="Failures", endpoint=name).inc()
        retry_after = None
        if code in RETRY_AFTER_STATUSES:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return Failed(error=f"HTTP {status_text(code)}", status=code, retry_after=retry_after,
                      gone=code == 410)


def describe_error(exc: BaseException) -> str:
    """A short reason: the kind of failure and its innermost message, never request headers."""
    kinds = (
        (SSLError, "tls error"),
        (NewConnectionError, "connection error"),  # a subclass of the connect timeout, sadly
        (Urllib3Timeout, "timeout"),
        (ProtocolError, "connection error"),
        (OSError, "connection error"),
    )
    kind = next((label for cls, label in kinds if isinstance(exc, cls)), type(exc).__name__)
    reason = exc.args[0] if exc.args else exc
    text = str(getattr(reason, "reason", reason))
    return f"{kind}: {text}"[:300]
