"""A descriptor's ``urls``: where a client may fetch a layer the registry does not hold.

Only a foreign (Docker) or non-distributable (OCI) layer is fetched from elsewhere, so only
such a layer may be absent from the repository; every other descriptor, ``urls`` or not, must
be there. Any URL in a manifest, on whatever descriptor, must be ``http(s)`` and pass the
reference's ``validation.manifests.urls`` rules: with validation on (the default) and neither
``allow`` nor ``deny`` set, no URL is allowed; ``allow`` patterns must match (one of them),
``deny`` patterns must not. Patterns are searched anywhere in the URL, as Go's ``MatchString``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from services.registry.domain.mediatypes import DOCKER_FOREIGN_LAYER
from shared.config import ValidationConfig

FOREIGN_LAYER_TYPES = frozenset({
    DOCKER_FOREIGN_LAYER,
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
})
_SCHEMES = ("http", "https")


def fetched_elsewhere(descriptor: dict) -> bool:
    """A layer clients fetch from its ``urls``: the one kind of descriptor that need not be
    in the repository."""
    return descriptor.get("mediaType") in FOREIGN_LAYER_TYPES and bool(descriptor.get("urls"))


@dataclass(frozen=True)
class URLPolicy:
    enabled: bool = True
    allow: tuple[re.Pattern[str], ...] = ()
    deny: tuple[re.Pattern[str], ...] = ()

    @classmethod
    def from_config(cls, config: ValidationConfig) -> URLPolicy:
        return cls(config.enabled, tuple(re.compile(p) for p in config.urls_allow),
                   tuple(re.compile(p) for p in config.urls_deny))

    def refusal(self, url: str) -> str | None:
        """Why ``url`` may not be in a manifest; None when it may."""
        try:
            parts = urlsplit(url)
        except ValueError:
            return "not a URL"
        if parts.scheme not in _SCHEMES or not parts.netloc:
            return "only http and https URLs are allowed"
        if parts.fragment:
            return "a URL with a fragment is not allowed"
        if not self.enabled:
            return None
        if not self.allow and not self.deny:
            return "no URL is allowed (validation.manifests.urls.allow is not set)"
        if self.allow and not any(p.search(url) for p in self.allow):
            return "not allowed by validation.manifests.urls.allow"
        if any(p.search(url) for p in self.deny):
            return "denied by validation.manifests.urls.deny"
        return None
