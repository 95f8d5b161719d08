"""One HTTP POST of one event to one endpoint: the last stage of the pipeline.

The POST goes through libcurl (pycurl). A notifier draining a backlog is CPU-bound, and the HTTP
client was most of its cost: urllib3 spends about 250 us of Python per POST (pool lookup, URL
parsing, header dicts, http.client's e-mail header parser), libcurl about 60 us, and it releases
the GIL while it waits, so the delivery threads really overlap. Each delivery thread has its own
curl handle, whose connection stays alive from one delivery to the next. Redirects are not
followed and nothing is retried here (a failed attempt is the retry logic's business); proxy
variables in the environment are not read (they are not what the config said). Configured
headers win over our defaults; header values are never logged or put in an error message.

With the delivery history on, each attempt also yields an :class:`AttemptRecord`: when it
started and how long it took, the request headers with secret values masked, the answer's
status, headers and first ``maxbodybytes`` of body, or why there was none (its error class).
"""

from __future__ import annotations

import http
import threading
import time

import certifi
import pycurl

from services.notifier.metrics import HTTP_STATUS, REF_EVENTS, REF_STATUS
from services.notifier.outcomes import Delivered, Delivery, Failed, Outcome
from services.notifier.retry import parse_retry_after
from services.notifier.signing import signature
from shared.config import EndpointConfig
from shared.event_formats import render
from shared.history.records import CONNECT, DNS, STATUS, TIMEOUT, TLS, AttemptRecord, mask_headers

USER_AGENT = "registry-notifier/0.1"
RETRY_AFTER_STATUSES = (429, 503)

# libcurl's error codes, by the kind of failure our log lines and metrics name.
_TIMEOUT_ERRORS = {pycurl.E_OPERATION_TIMEDOUT}
_TLS_ERRORS = {
    pycurl.E_SSL_CONNECT_ERROR, pycurl.E_PEER_FAILED_VERIFICATION, pycurl.E_SSL_CACERT_BADFILE,
    pycurl.E_SSL_CERTPROBLEM, pycurl.E_SSL_CIPHER, pycurl.E_SSL_ISSUER_ERROR,
}
_DNS_ERRORS = {pycurl.E_COULDNT_RESOLVE_HOST, pycurl.E_COULDNT_RESOLVE_PROXY}
_CONNECTION_ERRORS = {
    pycurl.E_COULDNT_CONNECT, pycurl.E_GOT_NOTHING,
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
    curl.setopt(pycurl.WRITEFUNCTION, _discard)  # the answer's body: only the history keeps some
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


class BodyStart:
    """Keeps the first ``limit`` bytes of an answer's body and drops the rest."""

    def __init__(self, limit: int):
        self.limit = limit
        self.chunks: list[bytes] = []
        self.size = 0

    def write(self, chunk: bytes) -> None:
        if self.size < self.limit:
            part = chunk[: self.limit - self.size]
            self.chunks.append(part)
            self.size += len(part)

    def reset(self) -> None:
        self.chunks.clear()
        self.size = 0

    def text(self) -> str:
        return b"".join(self.chunks).decode("utf-8", errors="replace")


class HttpSink:
    """POSTs the event in the endpoint's format; 2xx is delivered, anything else failed.
    ``record``: describe each attempt for the history, keeping ``max_body`` bytes of answers."""

    def __init__(self, endpoint: EndpointConfig, record: bool = False, max_body: int = 4096):
        self.endpoint = endpoint
        self.record = record
        self.max_body = max_body
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

    def _handle(self) -> tuple[pycurl.Curl, list[bytes], BodyStart | None]:
        """This thread's handle (curl handles are not thread-safe), its header lines and the
        start of the answer's body (kept for the history only)."""
        handle = getattr(self._local, "handle", None)
        if handle is None:
            curl = make_handle(self.endpoint)
            lines: list[bytes] = []
            curl.setopt(pycurl.HEADERFUNCTION, lines.append)
            kept = None
            if self.record and self.max_body > 0:
                kept = BodyStart(self.max_body)
                curl.setopt(pycurl.WRITEFUNCTION, kept.write)
            handle = self._local.handle = (curl, lines, kept)
        return handle

    def deliver(self, delivery: Delivery) -> Outcome:
        body, content_type = render(self.endpoint.format, delivery.event, delivery.routing_key)
        headers = self.request_headers(str(delivery.event.get("id", "")), body, content_type)
        curl, lines, kept = self._handle()
        lines.clear()
        if kept is not None:
            kept.reset()
        # An empty "Expect:" stops curl's 100-continue round trip on bodies over 1 KiB.
        curl.setopt(pycurl.HTTPHEADER,
                    [f"{k}: {v}".encode("latin-1") for k, v in headers.items()] + [b"Expect:"])
        curl.setopt(pycurl.POSTFIELDS, body)
        started = time.time()
        try:
            curl.perform()
        except pycurl.error as exc:
            self._errors.inc()
            error, error_class = describe_error(exc), error_class_of_curl(exc)
            attempt = self._attempt(started, headers, None, lines, kept, error_class, error)
            return Failed(error=error, error_class=error_class, attempt=attempt)
        code = curl.getinfo(pycurl.RESPONSE_CODE)
        self._count_status(code)
        if 200 <= code < 300:
            self._successes.inc()
            return Delivered(code, self._attempt(started, headers, code, lines, kept))
        self._failures.inc()
        retry_after = None
        if code in RETRY_AFTER_STATUSES:
            retry_after = parse_retry_after(header_value(lines, "retry-after"))
        error = f"HTTP {status_text(code)}"
        return Failed(error=error, status=code, retry_after=retry_after, gone=code == 410,
                      error_class=STATUS,
                      attempt=self._attempt(started, headers, code, lines, kept, STATUS, error))

    def _attempt(self, started: float, headers: dict[str, str], status: int | None,
                 lines: list[bytes], kept: BodyStart | None, error_class: str | None = None,
                 error: str | None = None) -> AttemptRecord | None:
        if not self.record:
            return None
        return AttemptRecord(
            started=started, duration_ms=round((time.time() - started) * 1000, 3),
            request_headers=mask_headers(headers, self.configured_headers),
            status=status,
            response_headers=response_headers(lines) if status is not None else None,
            response_body=kept.text() if kept is not None and status is not None else None,
            error_class=error_class, error=error)


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


def response_headers(lines: list[bytes]) -> dict[str, str]:
    """The final answer's headers from curl's raw header lines (repeated names joined)."""
    found: dict[str, str] = {}
    for line in lines:
        text = line.decode("latin-1").strip()
        if text.startswith("HTTP/"):
            found = {}
            continue
        key, sep, value = text.partition(":")
        if sep:
            key, value = key.strip(), value.strip()
            found[key] = f"{found[key]}, {value}" if key in found else value
    return found


def error_class_of_curl(exc: pycurl.error) -> str:
    """dns, connect, tls or timeout: why no answer came (anything else curl says counts as no
    connection)."""
    code = exc.args[0] if exc.args else None
    if code in _TIMEOUT_ERRORS:
        return TIMEOUT
    if code in _TLS_ERRORS:
        return TLS
    if code in _DNS_ERRORS:
        return DNS
    return CONNECT


def describe_error(exc: pycurl.error) -> str:
    """A short reason: the kind of failure and curl's message, never request headers."""
    code = exc.args[0] if exc.args else None
    text = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
    if code in _TIMEOUT_ERRORS:
        kind = "timeout"
    elif code in _TLS_ERRORS:
        kind = "tls error"
    elif code in _DNS_ERRORS:
        kind = "dns error"
    elif code in _CONNECTION_ERRORS:
        kind = "connection error"
    else:
        kind = f"curl error {code}"
    return f"{kind}: {text}"[:300]
