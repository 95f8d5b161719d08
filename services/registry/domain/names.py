"""Repository names and tags, checked with the OCI Distribution spec's grammar."""

from __future__ import annotations

import re

from services.registry.domain.errors import RegistryError

# distribution/reference: path components joined by "/", each lower-case alphanumerics
# separated by ".", "_", "__" or runs of "-".
_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
# Used with fullmatch: "$" would also match before a final newline ("v2\n" taken for "v2").
_NAME = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_TAG = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")
MAX_NAME_LENGTH = 255


def is_name(name: str) -> bool:
    return len(name) <= MAX_NAME_LENGTH and bool(_NAME.fullmatch(name))


def check_name(name: str) -> str:
    if len(name) > MAX_NAME_LENGTH:
        raise RegistryError("NAME_INVALID", "repository name must not be more than 255 characters",
                            detail={"name": name[:300]})
    if not _NAME.fullmatch(name):
        raise RegistryError("NAME_INVALID", detail={"name": name})
    return name


def is_tag(tag: str) -> bool:
    return bool(_TAG.fullmatch(tag))


def check_tag(tag: str) -> str:
    if not _TAG.fullmatch(tag):
        raise RegistryError("TAG_INVALID", "invalid tag", detail={"tag": tag[:200]})
    return tag
