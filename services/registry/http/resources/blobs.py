"""``/v2/<name>/blobs/<digest>``: GET (with a single Range), HEAD, DELETE."""

from __future__ import annotations

import falcon

from services.registry.domain.errors import RegistryError
from services.registry.http.resources.base import Resource
from services.registry.http.responses import FileRange, parse_range


class BlobResource(Resource):
    def _headers(self, resp: falcon.Response, digest: str) -> None:
        resp.content_type = "application/octet-stream"
        resp.set_header("Docker-Content-Digest", digest)
        resp.set_header("ETag", f'"{digest}"')
        resp.set_header("Accept-Ranges", "bytes")
        resp.set_header("Cache-Control", "max-age=31536000")

    def on_head(self, req: falcon.Request, resp: falcon.Response, name: str,
                digest: str) -> None:
        desc = self.registry.stat_blob(name, digest)
        self._headers(resp, desc.digest)
        resp.content_length = desc.size
        self.bridge.blob_pulled(self.context(req), name, desc)

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str,
               digest: str) -> None:
        desc, stream = self.registry.open_blob(name, digest)
        try:
            window = parse_range(req.get_header("Range"), desc.size)
        except ValueError:
            stream.close()
            raise RegistryError("RANGE_INVALID", "requested range not satisfiable", status=416,
                                detail={"size": desc.size},
                                headers={"Content-Range": f"bytes */{desc.size}"}) from None
        self._headers(resp, desc.digest)
        if window is None:
            resp.stream = stream
            resp.content_length = desc.size
        else:
            start, length = window
            resp.status = falcon.HTTP_206
            resp.stream = FileRange(stream, start, length)
            resp.content_length = length
            resp.set_header("Content-Range", f"bytes {start}-{start + length - 1}/{desc.size}")
        self.bridge.blob_pulled(self.context(req), name, desc)

    def on_delete(self, req: falcon.Request, resp: falcon.Response, name: str,
                  digest: str) -> None:
        desc = self.registry.delete_blob(name, digest)
        resp.status = falcon.HTTP_202
        resp.content_length = 0
        self.bridge.blob_deleted(self.context(req), name, desc.digest)
