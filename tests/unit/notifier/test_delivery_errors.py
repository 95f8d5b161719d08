"""How a failed POST is described (log lines and metrics name its kind), and how the
``Retry-After`` of the last answer is found among curl's raw header lines."""

from __future__ import annotations

import pycurl
import pytest

from services.notifier.delivery import describe_error, header_value


@pytest.mark.parametrize("code, kind", [
    (pycurl.E_OPERATION_TIMEDOUT, "timeout"),
    (pycurl.E_COULDNT_CONNECT, "connection error"),
    (pycurl.E_GOT_NOTHING, "connection error"),
    (pycurl.E_PEER_FAILED_VERIFICATION, "tls error"),
    (pycurl.E_SSL_CONNECT_ERROR, "tls error"),
    (pycurl.E_URL_MALFORMAT, "curl error 3"),
])
def test_each_curl_failure_is_named_by_its_kind(code, kind):
    text = describe_error(pycurl.error(code, "what curl said"))
    assert text == f"{kind}: what curl said"


def test_a_long_curl_message_is_cut():
    assert len(describe_error(pycurl.error(7, "x" * 1000))) == 300


def test_retry_after_of_the_final_answer_wins_over_an_interim_one():
    lines = [b"HTTP/1.1 100 Continue\r\n", b"Retry-After: 1\r\n", b"\r\n",
             b"HTTP/1.1 503 Service Unavailable\r\n", b"retry-after:  7 \r\n",
             b"Content-Length: 0\r\n", b"\r\n"]
    assert header_value(lines, "retry-after") == "7"
    assert header_value(lines, "x-missing") is None
    assert header_value(lines[:3] + [b"HTTP/1.1 429 Too Many Requests\r\n", b"\r\n"],
                        "retry-after") is None
