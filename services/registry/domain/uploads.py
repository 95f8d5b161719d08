"""Blob uploads: sessions kept in storage (``_uploads/<uuid>/``), so any process sharing the
storage can continue one. An upload's offset is its data file's size.

Bytes are hashed as they arrive. The hash state lives in this process only (Python cannot
persist it in the reference's ``hashstates`` format), so when a session moved between
processes the data file is re-read once at the end. Finishing moves the data into the content
store after the digest is verified: a failed or abandoned upload never shows up as a blob.

A request that changes a session (a chunk, the finish, the cancel) holds the session's lock,
among every process sharing the storage, for as long as it works on it: another request on the
same session meanwhile is refused at once (409). Without it, a chunk still arriving when the
upload was finished went on writing into the file just moved into the blob store, and two
finishes at once could re-create the data file empty and move that over the blob.
"""

from __future__ import annotations

import threading
import time
import uuid as uuidlib
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from services.registry.domain import layout
from services.registry.domain.blobs import BlobStore
from services.registry.domain.descriptors import Descriptor
from services.registry.domain.digests import CANONICAL, hasher, parse_digest, split
from services.registry.domain.errors import RegistryError
from services.registry.domain.streaming import hash_and_write
from services.registry.storage.driver import LockBusy, PathNotFound, StorageDriver

_READ_CHUNK = 1 << 20
_MAX_HASH_STATES = 1024


@dataclass(frozen=True)
class UploadStatus:
    repository: str
    uuid: str
    offset: int


class RangeError(RegistryError):
    """A chunk that does not start where the upload ends: 416, with the upload's state so the
    client can resume."""

    def __init__(self, status: UploadStatus, message: str):
        super().__init__("RANGE_INVALID", message, status=416)
        self.upload = status


class _HashStates:
    """Running hashes of this process's uploads, keyed by upload, valid at one offset."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: OrderedDict[str, tuple[int, str, Any]] = OrderedDict()

    def take(self, key: str, offset: int, algorithm: str) -> Any | None:
        with self._lock:
            state = self._states.pop(key, None)
        if state and state[0] == offset and state[1] == algorithm:
            return state[2]
        return None

    def put(self, key: str, offset: int, algorithm: str, h: Any) -> None:
        with self._lock:
            self._states[key] = (offset, algorithm, h)
            while len(self._states) > _MAX_HASH_STATES:
                self._states.popitem(last=False)

    def drop(self, key: str) -> None:
        with self._lock:
            self._states.pop(key, None)


def _checked_range(status: UploadStatus, start: int | None, end: int | None,
                   length: int | None) -> int | None:
    """A chunk's Content-Range (``start``/``end``, inclusive) checked against the session: it
    must start where the upload ends and span the body. Returns the body length to expect."""
    if start is None:
        return length
    if start != status.offset:
        raise RangeError(status, f"chunk starts at {start}, upload is at {status.offset}")
    if end is not None and (end < start or (length is not None and end - start + 1 != length)):
        raise RangeError(status, "Content-Range does not match the body length")
    if end is not None and length is None:
        length = end - start + 1  # a chunked body must still fill its range exactly
    return length


def _valid_uuid(value: str) -> bool:
    try:
        uuidlib.UUID(value)
    except ValueError:
        return False
    return True


class UploadStore:
    def __init__(self, driver: StorageDriver, blobs: BlobStore):
        self.driver = driver
        self.blobs = blobs
        self.hashes = _HashStates()

    # ------------------------------------------------------------ sessions
    def start(self, repo: str) -> UploadStatus:
        upload_id = str(uuidlib.uuid4())
        started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.driver.put_contents([(layout.upload_startedat(repo, upload_id), started.encode()),
                                  (layout.upload_data(repo, upload_id), b"")])
        self.hashes.put(f"{repo}/{upload_id}", 0, CANONICAL, hasher(CANONICAL))
        return UploadStatus(repo, upload_id, 0)

    def status(self, repo: str, upload_id: str) -> UploadStatus:
        if not _valid_uuid(upload_id):
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", detail={"uuid": upload_id})
        try:
            self.driver.stat(layout.upload_startedat(repo, upload_id))
        except PathNotFound:
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", detail={"uuid": upload_id}) from None
        try:
            size = self.driver.stat(layout.upload_data(repo, upload_id)).size
        except PathNotFound:
            size = 0
        return UploadStatus(repo, upload_id, size)

    @contextmanager
    def _held(self, repo: str, upload_id: str) -> Iterator[UploadStatus]:
        """The session's status, with its lock held until the block ends."""
        unknown = RegistryError("BLOB_UPLOAD_UNKNOWN", detail={"uuid": upload_id})
        if not _valid_uuid(upload_id):
            raise unknown
        with ExitStack() as stack:
            try:
                stack.enter_context(self.driver.exclusive(layout.upload_dir(repo, upload_id)))
            except PathNotFound:
                raise unknown from None
            except LockBusy:
                raise RegistryError("BLOB_UPLOAD_INVALID",
                                    "the upload is in use by another request", status=409,
                                    detail={"uuid": upload_id}) from None
            # Looked at again under the lock: the holder before us may have finished it.
            yield self.status(repo, upload_id)

    def cancel(self, repo: str, upload_id: str) -> None:
        with self._held(repo, upload_id):
            self._remove(repo, upload_id)

    def _remove(self, repo: str, upload_id: str) -> None:
        self.hashes.drop(f"{repo}/{upload_id}")
        try:
            self.driver.delete(layout.upload_dir(repo, upload_id))
        except PathNotFound:
            pass

    # ------------------------------------------------------------ data
    def append(self, repo: str, upload_id: str, chunks: Iterable[bytes],
               start: int | None = None, end: int | None = None,
               length: int | None = None) -> UploadStatus:
        """Append one chunk. ``start``/``end`` (inclusive) come from Content-Range and must
        continue the upload exactly; ``length`` is the declared body size."""
        with self._held(repo, upload_id) as status:
            return self._append(status, chunks, start, end, length)

    def _append(self, status: UploadStatus, chunks: Iterable[bytes], start: int | None,
                end: int | None, length: int | None) -> UploadStatus:
        length = _checked_range(status, start, end, length)
        self._write(status, chunks, length)
        return self.status(status.repository, status.uuid)

    def _write(self, status: UploadStatus, chunks: Iterable[bytes], length: int | None,
               algorithm: str = CANONICAL) -> int:
        key = f"{status.repository}/{status.uuid}"
        h = self.hashes.take(key, status.offset, algorithm)
        if h is None and status.offset == 0:
            h = hasher(algorithm)  # nothing written yet: any process can hash from the start
        writer = self.driver.writer(layout.upload_data(status.repository, status.uuid), append=True)
        try:
            written = hash_and_write(chunks, writer, h, length)
            if length is not None and written != length:
                raise RegistryError("SIZE_INVALID", detail={"expected": length, "received": written})
            writer.commit()
        except BaseException:
            writer.cancel()
            writer.close()
            raise
        writer.close()
        if h is not None:
            self.hashes.put(key, status.offset + written, algorithm, h)
        return written

    def finish(self, repo: str, upload_id: str, digest: str | None, chunks: Iterable[bytes],
               length: int | None = None, start: int | None = None,
               end: int | None = None) -> Descriptor:
        """Append the last chunk (if any), verify ``digest`` and move the data into place.
        A last chunk with a Content-Range (``start``/``end``) must continue the upload as
        :meth:`append`'s does: one that does not is refused (416) with the session kept."""
        with self._held(repo, upload_id) as status:
            digest = parse_digest(digest)
            length = _checked_range(status, start, end, length)
            return self._finish(status, digest, chunks, length)

    def _finish(self, status: UploadStatus, digest: str, chunks: Iterable[bytes],
                length: int | None) -> Descriptor:
        repo, upload_id = status.repository, status.uuid
        algorithm, _ = split(digest)
        self._write(status, chunks, length, algorithm)
        status = self.status(repo, upload_id)
        h = self.hashes.take(f"{repo}/{upload_id}", status.offset, algorithm)
        if h is None:
            h = self._rehash(repo, upload_id, algorithm)
        return self._commit(status, digest, f"{algorithm}:{h.hexdigest()}")

    def _rehash(self, repo: str, upload_id: str, algorithm: str) -> Any:
        h = hasher(algorithm)
        with self.driver.reader(layout.upload_data(repo, upload_id)) as f:
            while chunk := f.read(_READ_CHUNK):
                h.update(chunk)
        return h

    def _commit(self, status: UploadStatus, expected: str, actual: str) -> Descriptor:
        repo, upload_id = status.repository, status.uuid
        if actual != expected:
            # The reference cancels an upload whose digest does not match.
            self._remove(repo, upload_id)
            raise RegistryError("DIGEST_INVALID", detail={"expected": expected, "actual": actual})
        # Storage decides, never the descriptor cache: a stale cache entry (a garbage-collected
        # blob, or a Redis shared with another storage) would otherwise drop these bytes.
        if not self.driver.exists(layout.blob_data(expected)):
            self.driver.move(layout.upload_data(repo, upload_id), layout.blob_data(expected))
        desc = Descriptor(digest=expected, size=status.offset)
        self.blobs.link(repo, desc)
        self._remove(repo, upload_id)
        return desc

    def put_monolithic(self, repo: str, digest: str | None, chunks: Iterable[bytes],
                       length: int | None = None) -> Descriptor:
        """One request carries the whole blob: streamed into an upload area, hashed on the way,
        verified, then moved into place. Nothing stays behind on failure."""
        digest = parse_digest(digest)
        algorithm, _ = split(digest)
        upload_id = str(uuidlib.uuid4())
        status = UploadStatus(repo, upload_id, 0)
        self.driver.put_content(layout.upload_startedat(repo, upload_id),
                                time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()).encode())
        try:
            self.hashes.put(f"{repo}/{upload_id}", 0, algorithm, hasher(algorithm))
            written = self._write(status, chunks, length, algorithm)
            h = self.hashes.take(f"{repo}/{upload_id}", written, algorithm)
            if h is None:
                h = self._rehash(repo, upload_id, algorithm)
            return self._commit(UploadStatus(repo, upload_id, written), digest,
                                f"{algorithm}:{h.hexdigest()}")
        finally:
            self._remove(repo, upload_id)
