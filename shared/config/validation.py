"""The ``validation`` section: the reference's manifest URL rules."""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.config.errors import ConfigError
from shared.config.section import Section


@dataclass(frozen=True)
class ValidationConfig:
    """``urls_allow`` and ``urls_deny`` are regular expressions, searched in each URL of a
    pushed manifest. With validation on (the default) and neither list set, no URL is allowed."""

    enabled: bool = True
    urls_allow: tuple[str, ...] = ()
    urls_deny: tuple[str, ...] = ()


def parse_validation(v: Section) -> ValidationConfig:
    """``disabled`` (or the deprecated ``enabled``, which wins when true, as in the reference)
    and ``manifests.urls.allow`` / ``deny``, each pattern compiled here so a bad one stops
    start-up naming its key."""
    urls = v.section("manifests").section("urls")
    patterns: dict[str, tuple[str, ...]] = {}
    for name in ("allow", "deny"):
        patterns[name] = urls.strings(name)
        for pattern in patterns[name]:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ConfigError(urls.key(name), f"{pattern!r} is not a regular expression: {exc}") \
                    from None
    return ValidationConfig(
        enabled=v.bool("enabled") or not v.bool("disabled"),
        urls_allow=patterns["allow"],
        urls_deny=patterns["deny"],
    )
