"""Browsing is not pulling: the web console's own reads carry a header the registry checks, and
the registry publishes no ``pull`` event for them.

The header holds a timestamp and an HMAC of it under a key derived from ``http.secret`` (never
the secret itself), valid for a few minutes either side, so a value seen in a proxy's log stops
working soon after. Anyone holding ``http.secret`` can make one: it is the registry's own secret.
"""

from __future__ import annotations

import hashlib
import hmac
import time

CONSOLE_READ_HEADER = "X-Registry-Console-Read"
VALID_FOR_SECONDS = 300
_KEY_PURPOSE = b"durable-registry console read v1"


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), _KEY_PURPOSE, hashlib.sha256).digest()


def _mac(secret: str, stamp: str) -> str:
    return hmac.new(_key(secret), stamp.encode(), hashlib.sha256).hexdigest()


def console_read_token(secret: str, now: float | None = None) -> str:
    """The header value the console sends with every read it makes on a person's behalf."""
    stamp = str(int(time.time() if now is None else now))
    return f"{stamp}.{_mac(secret, stamp)}"


def is_console_read(value: str | None, secret: str | None, now: float | None = None) -> bool:
    """Whether ``value`` is a current console-read token under ``secret``."""
    if not value or not secret:
        return False
    stamp, _, mac = value.partition(".")
    if not stamp.isdigit() or not mac:
        return False
    current = time.time() if now is None else now
    if abs(current - int(stamp)) > VALID_FOR_SECONDS:
        return False
    return hmac.compare_digest(mac, _mac(secret, stamp))
