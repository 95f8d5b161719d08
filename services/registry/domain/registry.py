"""The registry's operations, independent of HTTP: what the routes call.

Each method validates its inputs (names, digests, tags) and raises :class:`RegistryError`
with the spec's code; nothing here knows about requests or responses.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, BinaryIO

from services.registry.domain import catalog
from services.registry.domain.blobs import BlobStore
from services.registry.domain.descriptors import Descriptor
from services.registry.domain.digests import parse_digest
from services.registry.domain.errors import RegistryError
from services.registry.domain.manifest_urls import URLPolicy
from services.registry.domain.manifests import Manifest, ManifestStore
from services.registry.domain.names import check_name, check_tag
from services.registry.domain.uploads import UploadStatus, UploadStore
from services.registry.storage.driver import StorageDriver


class Registry:
    def __init__(self, driver: StorageDriver, cache: Any = None,
                 url_policy: URLPolicy | None = None):
        self.driver = driver
        self.blobs = BlobStore(driver, cache)
        self.uploads = UploadStore(driver, self.blobs)
        self.manifests = ManifestStore(driver, self.blobs, url_policy)

    # ------------------------------------------------------------ blobs
    def stat_blob(self, repo: str, digest: str) -> Descriptor:
        return self.blobs.stat(check_name(repo), parse_digest(digest))

    def open_blob(self, repo: str, digest: str) -> tuple[Descriptor, BinaryIO]:
        return self.blobs.open(check_name(repo), parse_digest(digest))

    def delete_blob(self, repo: str, digest: str) -> Descriptor:
        return self.blobs.unlink(check_name(repo), parse_digest(digest))

    def mount_blob(self, repo: str, digest: str, from_repo: str) -> Descriptor | None:
        """Link ``from_repo``'s blob into ``repo``; None when there is nothing to mount."""
        check_name(repo)
        digest = parse_digest(digest)
        try:
            check_name(from_repo)
        except RegistryError:
            return None
        return self.blobs.mount(repo, digest, from_repo)

    # ------------------------------------------------------------ uploads
    def start_upload(self, repo: str) -> UploadStatus:
        return self.uploads.start(check_name(repo))

    def upload_status(self, repo: str, upload_id: str) -> UploadStatus:
        return self.uploads.status(check_name(repo), upload_id)

    def append_upload(self, repo: str, upload_id: str, chunks: Iterable[bytes],
                      start: int | None = None, end: int | None = None,
                      length: int | None = None) -> UploadStatus:
        return self.uploads.append(check_name(repo), upload_id, chunks, start, end, length)

    def finish_upload(self, repo: str, upload_id: str, digest: str | None,
                      chunks: Iterable[bytes], length: int | None = None,
                      start: int | None = None, end: int | None = None) -> Descriptor:
        return self.uploads.finish(check_name(repo), upload_id, digest, chunks, length,
                                   start, end)

    def cancel_upload(self, repo: str, upload_id: str) -> None:
        self.uploads.cancel(check_name(repo), upload_id)

    def put_blob(self, repo: str, digest: str | None, chunks: Iterable[bytes],
                 length: int | None = None) -> Descriptor:
        return self.uploads.put_monolithic(check_name(repo), digest, chunks, length)

    # ------------------------------------------------------------ manifests
    def get_manifest(self, repo: str, reference: str) -> Manifest:
        return self.manifests.get(check_name(repo), reference)

    def platform_manifest(self, repo: str, index: Manifest, os: str,
                          architecture: str) -> Manifest | None:
        """The child of an index for one platform, when the index lists it and it is here."""
        return self.manifests.platform_child(check_name(repo), index, os, architecture)

    def put_manifest(self, repo: str, reference: str, content: bytes,
                     content_type: str | None) -> Manifest:
        return self.manifests.put(check_name(repo), reference, content, content_type)

    def delete_manifest(self, repo: str, digest: str) -> tuple[Manifest, list[str]]:
        return self.manifests.delete(check_name(repo), digest)

    def delete_tag(self, repo: str, tag: str) -> str:
        return self.manifests.delete_tag(check_name(repo), check_tag(tag))

    def list_tags(self, repo: str, n: int | None = None,
                  last: str | None = None) -> tuple[list[str], bool]:
        return catalog.paginate(self.manifests.tags(check_name(repo)), n, last)

    def catalog(self, n: int | None = None, last: str | None = None) -> tuple[list[str], bool]:
        return catalog.catalog_page(self.driver, n, last)

    def referrers(self, repo: str, subject: str,
                  artifact_type: str | None = None) -> list[dict[str, Any]]:
        return self.manifests.referrers(check_name(repo), subject, artifact_type)
