"""Routing ``/v2/...`` paths whose repository names contain slashes.

Falcon's template router cannot match a multi-segment name followed by more segments, so
routes are regular expressions, as in the reference (``registry/api/v2/routes.go``). The name
is matched loosely here and validated by the domain, so a bad name is NAME_INVALID, not 404.
Each route's name is the reference's route name, used as the metrics ``handler`` label.
"""

from __future__ import annotations

import re
from typing import Any

from falcon.routing import map_http_methods, set_default_responders

# Tried in order: the more specific paths first. Matched whole (fullmatch): a "$" would also
# match before a final newline, so "/v2/a/tags/list\n" would list a's tags.
ROUTES: tuple[tuple[str, str], ...] = (
    ("base", r"/v2/?"),
    ("catalog", r"/v2/_catalog"),
    ("tags", r"/v2/(?P<name>.+)/tags/list"),
    ("manifest", r"/v2/(?P<name>.+)/manifests/(?P<reference>[^/]+)"),
    ("blob_upload_chunk", r"/v2/(?P<name>.+)/blobs/uploads/(?P<uuid>[^/]+)"),
    ("blob_upload", r"/v2/(?P<name>.+)/blobs/uploads/?"),
    ("blob", r"/v2/(?P<name>.+)/blobs/(?P<digest>[^/]+)"),
    ("referrers", r"/v2/(?P<name>.+)/referrers/(?P<digest>[^/]+)"),
)
_PATTERNS = {name: re.compile(pattern) for name, pattern in ROUTES}


class RegistryRouter:
    """A Falcon router: ``add_route("/<route name>", resource)``, then ``find(path)``."""

    def __init__(self, prefix: str = "/") -> None:
        self._routes: list[tuple[str, re.Pattern[str], Any, dict]] = []
        # http.prefix: the API lives under it ("/registry/v2/...").
        self._prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""

    def add_route(self, uri_template: str, resource: Any, **kwargs: Any) -> None:
        uri_template = uri_template.lstrip("/")  # Falcon insists on a leading slash
        if uri_template not in _PATTERNS:
            raise ValueError(f"unknown route {uri_template!r}")
        method_map = map_http_methods(resource)
        set_default_responders(method_map)
        self._routes.append((uri_template, _PATTERNS[uri_template], resource, method_map))

    def find(self, uri: str, req: Any = None) -> tuple[Any, dict, dict[str, str], str] | None:
        if self._prefix:
            if not uri.startswith(self._prefix + "/"):
                return None
            uri = uri[len(self._prefix):]
        for name, pattern, resource, method_map in self._routes:
            match = pattern.fullmatch(uri)
            if match:
                return resource, method_map, match.groupdict(), name
        return None
