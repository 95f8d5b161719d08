"""The key ids of docker/libtrust, which the reference registry and Docker's token servers put
in a JWT's ``kid`` header: the SHA-256 of the key's DER SubjectPublicKeyInfo, truncated to
240 bits, base32 without padding, in 12 groups of 4 separated by ``:``."""

from __future__ import annotations

import base64
import hashlib

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


def key_id(public_key: object) -> str:
    der = public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)  # type: ignore[attr-defined]
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(encoded[i:i + 4] for i in range(0, len(encoded), 4))
