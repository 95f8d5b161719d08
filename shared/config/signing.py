"""Standard Webhooks signing secrets: ``whsec_`` and the base64 of the key. Checked at start,
so a secret that cannot sign fails the config instead of every delivery."""

from __future__ import annotations

import base64
import binascii

PREFIX = "whsec_"
MIN_KEY_BYTES = 24  # the Standard Webhooks specification's minimum


def signing_key(secret: str) -> bytes:
    """The HMAC key of ``secret``. Raises ValueError saying what is wrong, without the secret."""
    if not secret.startswith(PREFIX):
        raise ValueError(f"a signing secret starts with {PREFIX}")
    try:
        key = base64.b64decode(secret[len(PREFIX):], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"the part after {PREFIX} is not base64") from None
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"the key is {len(key)} bytes, at least {MIN_KEY_BYTES} are needed "
                         f"(e.g. {PREFIX}$(head -c 32 /dev/urandom | base64))")
    return key
