"""``/v2/<name>/manifests/<reference>``: GET, HEAD, PUT, DELETE by tag or digest."""

from __future__ import annotations

import falcon

from services.registry.domain.errors import RegistryError
from services.registry.domain.manifests import MAX_MANIFEST_SIZE, Manifest
from services.registry.domain.mediatypes import INDEX_TYPES
from services.registry.http.negotiation import accepted_types, reads_images
from services.registry.http.requests import read_limited
from services.registry.http.resources.base import Resource


def _tag(reference: str) -> str | None:
    return None if ":" in reference else reference


class ManifestResource(Resource):
    def _serve(self, req: falcon.Request, resp: falcon.Response, name: str, reference: str,
               body: bool) -> None:
        manifest = self.registry.get_manifest(name, reference)
        accepted = accepted_types([req.get_header("Accept") or ""])
        if accepted is not None and manifest.media_type not in accepted:
            manifest = self._fallback(name, manifest, accepted, by_tag=_tag(reference) is not None)
        resp.content_type = manifest.media_type
        resp.set_header("Docker-Content-Digest", manifest.digest)
        resp.set_header("ETag", f'"{manifest.digest}"')
        if body:
            resp.data = manifest.content
        else:
            resp.content_length = manifest.size
        self.bridge.manifest_pulled(self.context(req), name, manifest.descriptor,
                                    _tag(reference), manifest.references)

    def _fallback(self, name: str, manifest: Manifest, accepted: set[str],
                  by_tag: bool) -> Manifest:
        # Only a tag may stand for another manifest: asked for by digest, the answer must have
        # that digest (the reference's rule too).
        if by_tag and manifest.media_type in INDEX_TYPES and reads_images(accepted):
            child = self.registry.platform_manifest(name, manifest, "linux", "amd64")
            if child is not None and child.media_type in accepted:
                return child
        raise RegistryError("MANIFEST_UNKNOWN",
                            f"{manifest.media_type} found, but the Accept header does not "
                            "support it", detail={"digest": manifest.digest})

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str,
               reference: str) -> None:
        self._serve(req, resp, name, reference, body=True)

    def on_head(self, req: falcon.Request, resp: falcon.Response, name: str,
                reference: str) -> None:
        self._serve(req, resp, name, reference, body=False)

    def on_put(self, req: falcon.Request, resp: falcon.Response, name: str,
               reference: str) -> None:
        content = read_limited(req, MAX_MANIFEST_SIZE)
        content_type = (req.content_type or "").split(";", 1)[0].strip() or None
        manifest = self.registry.put_manifest(name, reference, content, content_type)
        resp.status = falcon.HTTP_201
        resp.set_header("Location", self.url(req, f"/v2/{name}/manifests/{manifest.digest}"))
        resp.set_header("Docker-Content-Digest", manifest.digest)
        if manifest.subject:
            resp.set_header("OCI-Subject", manifest.subject)
        resp.content_length = 0
        self.bridge.manifest_pushed(self.context(req), name, manifest.descriptor,
                                    _tag(reference), manifest.references)

    def on_delete(self, req: falcon.Request, resp: falcon.Response, name: str,
                  reference: str) -> None:
        ctx = self.context(req)
        tag = _tag(reference)
        if tag is not None:
            self.registry.delete_tag(name, tag)
            resp.status = falcon.HTTP_202
            resp.content_length = 0
            self.bridge.tag_deleted(ctx, name, tag)
            return
        manifest, tags = self.registry.delete_manifest(name, reference)
        resp.status = falcon.HTTP_202
        resp.content_length = 0
        # As the reference: the manifest, then each tag that pointed at it.
        self.bridge.manifest_deleted(ctx, name, manifest.digest)
        for removed in tags:
            self.bridge.tag_deleted(ctx, name, removed)
