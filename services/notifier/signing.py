"""Standard Webhooks signatures (https://www.standardwebhooks.com/)."""

from __future__ import annotations

import base64
import hashlib
import hmac

from shared.config.signing import signing_key


def signature(secrets: tuple[str, ...] | list[str], msg_id: str, timestamp: int,
              body: bytes) -> str:
    """``webhook-signature``: ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` per secret,
    space-separated, so a receiver rotating its secret accepts either."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    parts = []
    for secret in secrets:
        digest = hmac.new(signing_key(secret), signed, hashlib.sha256).digest()
        parts.append("v1," + base64.b64encode(digest).decode())
    return " ".join(parts)
