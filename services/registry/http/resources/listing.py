"""Lists: ``/v2/<name>/tags/list``, ``/v2/_catalog`` and ``/v2/<name>/referrers/<digest>``."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import falcon

from services.registry.domain.catalog import parse_n
from services.registry.domain.mediatypes import OCI_INDEX
from services.registry.http.resources.base import Resource

# The reference's default page size for the catalog; tags are all returned unless asked.
CATALOG_DEFAULT_ENTRIES = 100


def _json(resp: falcon.Response, doc: object, content_type: str = "application/json") -> None:
    resp.content_type = content_type
    resp.data = json.dumps(doc).encode()


def _link(resp: falcon.Response, path: str, n: int, last: str) -> None:
    query = urlencode({"last": last, "n": n})
    resp.set_header("Link", f'<{path}?{query}>; rel="next"')


class TagsResource(Resource):
    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        n = parse_n(req.get_param("n"))
        tags, more = self.registry.list_tags(name, n, req.get_param("last"))
        _json(resp, {"name": name, "tags": tags})
        if more and n and tags:
            _link(resp, self.path(f"/v2/{name}/tags/list"), n, tags[-1])


class CatalogResource(Resource):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        n = parse_n(req.get_param("n"))
        if n is None:
            n = CATALOG_DEFAULT_ENTRIES
        repos, more = self.registry.catalog(n, req.get_param("last"))
        _json(resp, {"repositories": repos})
        if more and repos:
            _link(resp, self.path("/v2/_catalog"), n, repos[-1])


class ReferrersResource(Resource):
    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str,
               digest: str) -> None:
        artifact_type = req.get_param("artifactType")
        manifests = self.registry.referrers(name, digest, artifact_type)
        _json(resp, {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests},
              OCI_INDEX)
        if artifact_type:
            resp.set_header("OCI-Filters-Applied", "artifactType")
