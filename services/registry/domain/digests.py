"""Digests: ``algorithm:hex``, as the OCI image spec defines them, for sha256 and sha512."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from services.registry.domain.errors import RegistryError

ALGORITHMS = {"sha256": 64, "sha512": 128}
CANONICAL = "sha256"
# The spec's grammar; anything it accepts but we cannot verify is refused as unsupported.
# Used with fullmatch, never match + "$" (which also matches before a final newline).
_GRAMMAR = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")


def is_digest(text: str) -> bool:
    return bool(_GRAMMAR.fullmatch(text or ""))


def parse_digest(text: str | None) -> str:
    """Return ``text`` if it is a sha256 or sha512 digest we can verify, else DIGEST_INVALID."""
    if not text or not _GRAMMAR.fullmatch(text):
        raise RegistryError("DIGEST_INVALID", "invalid digest", detail={"digest": text})
    algorithm, hex_part = text.split(":", 1)
    length = ALGORITHMS.get(algorithm)
    if length is None:
        raise RegistryError(
            "DIGEST_INVALID", "unsupported digest algorithm", detail={"digest": text}
        )
    if len(hex_part) != length or not re.fullmatch(r"[0-9a-f]+", hex_part):
        raise RegistryError("DIGEST_INVALID", "invalid digest", detail={"digest": text})
    return text


def split(digest: str) -> tuple[str, str]:
    algorithm, hex_part = digest.split(":", 1)
    return algorithm, hex_part


def hasher(algorithm: str = CANONICAL) -> Any:
    return hashlib.new(algorithm)


def digest_bytes(data: bytes, algorithm: str = CANONICAL) -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"
