"""One HTTP POST of one event to one endpoint: the last stage of the pipeline.

One ``requests.Session`` per endpoint keeps connections alive across deliveries (pool sized to
the endpoint's concurrency). Configured headers win over our defaults; header values are never
logged or put in an error message.
"""

from __future__ import annotations

import http
import time

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

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


def make_session(endpoint: EndpointConfig) -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max(endpoint.concurrency, 1),
                          max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    tls = endpoint.tls
    if tls.insecureskipverify:
        session.verify = False
    elif tls.ca:
        session.verify = tls.ca
    if tls.certificate:
        session.cert = (tls.certificate, tls.key) if tls.key else tls.certificate
    session.trust_env = False  # a proxy from the environment is not what the config said
    return session


class HttpSink:
    """POSTs the event in the endpoint's format; 2xx is delivered, anything else failed."""

    def __init__(self, endpoint: EndpointConfig, session: requests.Session | None = None):
        self.endpoint = endpoint
        self.session = session or make_session(endpoint)

    def request_headers(self, event_id: str, body: bytes, content_type: str) -> CaseInsensitiveDict:
        headers: CaseInsensitiveDict = CaseInsensitiveDict()
        headers["Content-Type"] = content_type
        headers["User-Agent"] = USER_AGENT
        for name, values in self.endpoint.headers.items():
            headers[name] = ", ".join(values)  # configured wins over the defaults above
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
            response = self.session.post(
                self.endpoint.url, data=body, headers=headers, timeout=self.endpoint.timeout,
                allow_redirects=False,
            )
            response.content  # read it all, so the connection goes back to the pool  # noqa: B018
        except requests.RequestException as exc:
            REF_EVENTS.labels(type="Errors", endpoint=name).inc()
            return Failed(error=describe_error(exc))
        code = response.status_code
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


def describe_error(exc: requests.RequestException) -> str:
    """A short reason: the exception kind and its innermost message, never request headers."""
    kinds = (
        (requests.exceptions.SSLError, "tls error"),
        (requests.Timeout, "timeout"),
        (requests.ConnectionError, "connection error"),
    )
    kind = next((label for cls, label in kinds if isinstance(exc, cls)), type(exc).__name__)
    reason = exc.args[0] if exc.args else exc
    text = str(getattr(reason, "reason", reason))
    return f"{kind}: {text}"[:300]
