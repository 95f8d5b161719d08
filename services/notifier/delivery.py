"""One HTTP POST of one event to one endpoint: the last stage of the pipeline.

The POST goes through libcurl (pycurl). A notifier draining a backlog is CPU-bound, and the HTTP
client was most of its cost: urllib3 spends about 250 us of Python per POST (pool lookup, URL
parsing, header dicts, http.client's e-mail header parser), libcurl about 60 us, and it releases
the GIL while it waits, so the delivery threads really overlap. Each delivery thread has its own
curl handle, whose connection stays alive from one delivery to the next. Redirects are not
followed and nothing is retried here (a failed attempt is the retry logic's business); proxy
variables in the environment are not read (they are not what the config said). Configured
headers win over our defaults; header values are never logged or put in an error message.
"""

from __future__ import annotations

import http
import threading
import time

import certifi
import pycurl

from services.notifier.formats import render
from services.notifier.metrics import HTTP_STATUS, REF_EVENTS, REF_STATUS
from services.notifier.outcomes import Delivered, Delivery, Failed, Outcome
from services.notifier.retry import parse_retry_after
from services.notifier.signing import signature
from shared.config import EndpointConfig

USER_AGENT = "registry-notifier/0.1"
RETRY_AFTER_STATUSES = (429, 503)

# libcurl's error codes, by the kind of failure our log lines and metrics name.
_TIMEOUT_ERRORS = {pycurl.E_OPERATION_TIMEDOUT}
_TLS_ERRORS = {
    pycurl.E_SSL_CONNECT_ERROR, pycurl.E_PEER_FAILED_VERIFICATION, pycurl.E_SSL_CACERT_BADFILE,
    pycurl.E_SSL_CERTPROBLEM, pycurl.E_SSL_CIPHER, pycurl.E_SSL_ISSUER_ERROR,
}
_CONNECTION_ERRORS = {
    pycurl.E_COULDNT_CONNECT, pycurl.E_COULDNT_RESOLVE_HOST, pycurl.E_GOT_NOTHING,
    pycurl.E_SEND_ERROR, pycurl.E_RECV_ERROR, pycurl.E_PARTIAL_FILE,
}


def status_text(code: int) -> str:
    """The reference's status label: ``202 Accepted``."""
    try:
        return f"{code} {http.HTTPStatus(code).phrase}"
    except ValueError:
        return str(code)


def make_handle(endpoint: EndpointConfig) -> pycurl.Curl:
    """A curl handle for one endpoint: its URL, timeouts and TLS settings. Server certificates
    are checked against certifi's bundle unless ``tls.ca`` names another."""
    curl = pycurl.Curl()
    curl.setopt(pycurl.URL, endpoint.url)
    curl.setopt(pycurl.POST, 1)
    curl.setopt(pycurl.NOSIGNAL, 1)  # timeouts without SIGALRM: we run in threads
    # ``timeout`` bounds one whole attempt, connection included.
    timeout_ms = max(1, int(endpoint.timeout * 1000))
    curl.setopt(pycurl.CONNECTTIMEOUT_MS, timeout_ms)
    curl.setopt(pycurl.TIMEOUT_MS, timeout_ms)
    curl.setopt(pycurl.FOLLOWLOCATION, 0)
    curl.setopt(pycurl.PROXY, "")
    curl.setopt(pycurl.WRITEFUNCTION, _discard)  # the answer's body is not ours to read
    tls = endpoint.tls
    if tls.insecureskipverify:
        curl.setopt(pycurl.SSL_VERIFYPEER, 0)
        curl.setopt(pycurl.SSL_VERIFYHOST, 0)
    else:
        curl.setopt(pycurl.CAINFO, tls.ca or certifi.where())
    if tls.certificate:
        curl.setopt(pycurl.SSLCERT, tls.certificate)
        if tls.key:
            curl.setopt(pycurl.SSLKEY, tls.key)
    return curl


def _discard(chunk: bytes) -> None:
    return None


class HttpSink:
    """POSTs the event in the endpoint's format; 2xx is delivered, anything else failed."""

    def __init__(self, endpoint: EndpointConfig):
        self.endpoint = endpoint
        self.configured_headers = {name: ", ".join(values)
                                   for name, values in endpoint.headers.items()}
        self._local = threading.local()
        # Bound once: a labels() lookup per event is a measurable share of a draining notifier.
        self._errors = REF_EVENTS.labels(type="Errors", endpoint=endpoint.name)
        self._successes = REF_EVENTS.labels(type="Successes", endpoint=endpoint.name)
        self._failures = REF_EVENTS.labels(type="Failures", endpoint=endpoint.name)
        self._by_status: dict[int, tuple] = {}

    def _count_status(self, code: int) -> None:
        counters = self._by_status.get(code)
        if counters is None:
            counters = self._by_status[code] = (
                HTTP_STATUS.labels(endpoint=self.endpoint.name, code=str(code)),
                REF_STATUS.labels(code=status_text(code), endpoint=self.endpoint.name),
            )
        for counter in counters:
            counter.inc()

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

    def _handle(self) -> tuple[pycurl.Curl, list[bytes]]:
        """This thread's handle (curl handles are not thread-safe) and its header lines."""
        handle = getattr(self._local, "handle", None)
        if handle is None:
            curl = make_handle(self.endpoint)
            lines: list[bytes] = []
            curl.setopt(pycurl.HEADERFUNCTION, lines.append)
            handle = self._local.handle = (curl, lines)
        return handle

    def deliver(self, delivery: Delivery) -> Outcome:
        body, content_type = render(self.endpoint.format, delivery.event, delivery.routing_key)
        headers = self.request_headers(str(delivery.event.get("id", "")), body, content_type)
        curl, lines = self._handle()
        lines.clear()
        # An empty "Expect:" stops curl's 100-continue round trip on bodies over 1 KiB.
        curl.setopt(pycurl.HTTPHEADER,
                    [f"{k}: {v}".encode("latin-1") for k, v in headers.items()] + [b"Expect:"])
        curl.setopt(pycurl.POSTFIELDS, body)
        try:
            curl.perform()
        except pycurl.error as exc:
            self._errors.inc()
            return Failed(error=describe_error(exc))
        code = curl.getinfo(pycurl.RESPONSE_CODE)
        self._count_status(code)
        if 200 <= code < 300:
            self._successes.inc()
            return Delivered(code)
        self._failures.inc()
        retry_after = None
        if code in RETRY_AFTER_STATUSES:
            retry_after = parse_retry_after(header_value(lines, "retry-after"))
        return Failed(error=f"HTTP {status_text(code)}", status=code, retry_after=retry_after,
                      gone=code == 410)


def header_value(lines: list[bytes], name: str) -> str | None:
    """The final answer's value of header ``name`` (lower case), from curl's raw header lines
    (those of an interim 1xx answer come first, each answer after its status line)."""
    found = None
    for line in lines:
        text = line.decode("latin-1")
        if text.startswith("HTTP/"):
            found = None  # a new answer begins
            continue
        key, sep, value = text.partition(":")
        if sep and key.strip().lower() == name:
            found = value.strip()
    return found


def describe_error(exc: pycurl.error) -> str:
    """A short reason: the kind of failure and curl's message, never request headers."""
    code = exc.args[0] if exc.args else None
    text = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
    if code in _TIMEOUT_ERRORS:
        kind = "timeout"
    elif code in _TLS_ERRORS:
        kind = "tls error"
    elif code in _CONNECTION_ERRORS:
        kind = "connection error"
    else:
        kind = f"curl error {code}"
    return f"{kind}: {text}"[:300]
