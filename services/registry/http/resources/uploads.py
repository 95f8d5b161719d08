"""``/v2/<name>/blobs/uploads/``: start (or finish in one POST, or mount), then PATCH chunks,
PUT to finish, GET for status, DELETE to cancel."""

from __future__ import annotations

import falcon

from services.registry.domain.descriptors import Descriptor
from services.registry.domain.errors import RegistryError
from services.registry.domain.uploads import RangeError, UploadStatus
from services.registry.http.requests import body_chunks, content_range
from services.registry.http.resources.base import Resource
from services.registry.http.responses import set_upload_headers, upload_range


class _UploadBase(Resource):
    def upload_url(self, req: falcon.Request, status: UploadStatus) -> str:
        return self.url(req, f"/v2/{status.repository}/blobs/uploads/{status.uuid}")

    def created(self, req: falcon.Request, resp: falcon.Response, name: str,
                desc: Descriptor) -> None:
        resp.status = falcon.HTTP_201
        resp.set_header("Location", self.url(req, f"/v2/{name}/blobs/{desc.digest}"))
        resp.set_header("Docker-Content-Digest", desc.digest)
        resp.content_length = 0

    def accepted(self, req: falcon.Request, resp: falcon.Response, status: UploadStatus,
                 code: str = falcon.HTTP_202) -> None:
        resp.status = code
        set_upload_headers(resp, self.upload_url(req, status), status)

    def with_upload_headers(self, req: falcon.Request, exc: RangeError) -> RangeError:
        """A refused chunk's 416 carries the session's state, so the client can resume."""
        exc.headers.update({
            "Location": self.upload_url(req, exc.upload),
            "Range": upload_range(exc.upload.offset),
            "Docker-Upload-UUID": exc.upload.uuid,
        })
        return exc


class UploadStartResource(_UploadBase):
    def on_post(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        mount, from_repo = req.get_param("mount"), req.get_param("from")
        if mount and from_repo:
            desc = self.registry.mount_blob(name, mount, from_repo)
            if desc is not None:
                self.created(req, resp, name, desc)
                self.bridge.blob_mounted(self.context(req), name, desc, from_repo)
                return
        digest = req.get_param("digest")
        if digest is not None:
            desc = self.registry.put_blob(name, digest, body_chunks(req), req.content_length)
            self.created(req, resp, name, desc)
            self.bridge.blob_pushed(self.context(req), name, desc)
            return
        self.accepted(req, resp, self.registry.start_upload(name))


class UploadResource(_UploadBase):
    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str, uuid: str) -> None:
        self.accepted(req, resp, self.registry.upload_status(name, uuid), falcon.HTTP_204)

    def on_patch(self, req: falcon.Request, resp: falcon.Response, name: str,
                 uuid: str) -> None:
        start, end = content_range(req)
        try:
            status = self.registry.append_upload(name, uuid, body_chunks(req), start, end,
                                                 req.content_length)
        except RangeError as exc:
            raise self.with_upload_headers(req, exc) from None
        self.accepted(req, resp, status)

    def on_put(self, req: falcon.Request, resp: falcon.Response, name: str, uuid: str) -> None:
        digest = req.get_param("digest")
        if not digest:
            raise RegistryError("DIGEST_INVALID", "digest parameter missing")
        start, end = content_range(req)
        try:
            desc = self.registry.finish_upload(name, uuid, digest, body_chunks(req),
                                               req.content_length, start, end)
        except RangeError as exc:
            raise self.with_upload_headers(req, exc) from None
        self.created(req, resp, name, desc)
        self.bridge.blob_pushed(self.context(req), name, desc)

    def on_delete(self, req: falcon.Request, resp: falcon.Response, name: str,
                  uuid: str) -> None:
        self.registry.cancel_upload(name, uuid)
        resp.status = falcon.HTTP_204
        resp.content_length = 0
