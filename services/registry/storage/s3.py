"""The s3 driver (``storage.s3``): the reference's tree of paths as keys in one bucket.

Path ``/docker/registry/v2/x`` is key ``<rootdirectory>/docker/registry/v2/x``; directories
exist only as key prefixes, as with the reference's S3 driver.

**Appends.** S3 objects cannot be appended to, and an upload's chunks may arrive at different
replicas, so a file being appended to is kept as *segments*: ordinary objects
``<key>!s3parts/00000001``, ``00000002``... whose concatenation is the file's content. Each
append writer writes one new segment (streamed as a multipart upload, holding at most one part
in memory) and leaves it durable on close, so any replica can open the next one. A path is a
plain object or a set of segments, not both: appending to a plain object first turns it into
segment 1 (a server-side copy). Readers, ``stat``, ``list`` and ``walk`` see a segmented file as
one file, and ``move`` joins the segments into one object at the destination with server-side
part copies (bytes pass through this process only for segments under S3's 5 MiB part minimum).
Segments are hidden from listings. An interrupted writer may leave an incomplete multipart
upload behind: give the bucket a lifecycle rule that aborts those after a day, as the reference
advises.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from services.registry.storage.driver import FileInfo, FileWriter, PathNotFound, StorageDriver
from shared.config import S3Config

MiB = 1 << 20
MIN_PART = 5 * MiB  # S3's minimum size of every part but the last
MAX_COPY = 5 * 1024 * MiB  # S3's largest single copy (CopyObject or one UploadPartCopy)
DEFAULT_PART_SIZE = 10 * MiB  # the reference's default chunksize
# The segments' folder is the file's name plus this marker, which no repository name, tag,
# digest or upload id can end with ("!" is outside their grammars, and one of S3's safe key
# characters). It was ".s3parts" before, which a repository or tag named "x.s3parts" ends
# with: such a folder was taken for a file's segments, hiding a repository from the catalog and
# garbage collection, and deleting tag "v1.s3parts" with "v1". Only upload data files are ever
# appended to, and a finished upload leaves one plain object, so old ".s3parts" segments exist
# only under "_uploads/" for uploads in progress during an upgrade: those uploads fail (clients
# start them again) and upload purging removes them with their session folder.
SEGMENTS = "!s3parts"
_NOT_FOUND = ("NoSuchKey", "404", "NotFound")


def _not_found(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in _NOT_FOUND


@dataclass(frozen=True)
class _Object:
    key: str
    size: int
    mtime: float


@dataclass
class _Probe:
    """What lives at a key: a plain object, segments, and/or keys below it (a directory)."""

    base: _Object | None = None
    segments: list[_Object] = field(default_factory=list)
    is_dir: bool = False

    @property
    def sources(self) -> list[_Object]:
        return [self.base] if self.base else self.segments

    @property
    def is_file(self) -> bool:
        return self.base is not None or bool(self.segments)

    @property
    def size(self) -> int:
        return sum(s.size for s in self.sources)

    @property
    def mtime(self) -> float:
        return max(s.mtime for s in self.sources)


def _obj(item: dict[str, Any]) -> _Object:
    return _Object(item["Key"], int(item["Size"]), item["LastModified"].timestamp())


def client_from_config(config: S3Config) -> Any:
    endpoint = config.regionendpoint
    if endpoint and "://" not in endpoint:
        endpoint = ("https://" if config.secure else "http://") + endpoint
    boto = BotoConfig(
        s3={"addressing_style": "path" if config.forcepathstyle else "auto"},
        signature_version="s3v4",
        retries={"mode": "standard", "max_attempts": 5},
        max_pool_connections=64,
        # Checksums only where S3 requires them: S3-compatible stores (MinIO, Ceph, moto)
        # differ in their support of the newer default ones.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return boto3.session.Session().client(
        "s3", region_name=config.region, endpoint_url=endpoint or None, use_ssl=config.secure,
        aws_access_key_id=config.accesskey or None,
        aws_secret_access_key=config.secretkey or None, config=boto)


class S3Driver(StorageDriver):
    name = "s3"

    def __init__(self, config: S3Config, client: Any = None, part_size: int = DEFAULT_PART_SIZE):
        if part_size < MIN_PART:
            raise ValueError(f"part_size must be at least {MIN_PART} bytes")
        self.bucket = config.bucket
        self.root = config.rootdirectory.strip("/")
        self.part_size = part_size
        self.s3 = client or client_from_config(config)

    # ------------------------------------------------------------ paths and keys

    def key(self, path: str) -> str:
        parts = [p for p in path.split("/") if p]
        if any(p in (".", "..") for p in parts):
            raise ValueError(f"invalid storage path {path!r}")
        return "/".join([self.root, *parts] if self.root else parts)

    def path(self, key: str) -> str:
        return "/" + (key[len(self.root) + 1:] if self.root else key)

    @staticmethod
    def _dir_prefix(key: str) -> str:
        return key + "/" if key else ""

    @staticmethod
    def _segment_prefix(key: str) -> str:
        return key + SEGMENTS + "/"

    def _pages(self, prefix: str, delimiter: str | None = None) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        if delimiter:
            kwargs["Delimiter"] = delimiter
        yield from self.s3.get_paginator("list_objects_v2").paginate(**kwargs)

    def _segments(self, key: str) -> list[_Object]:
        prefix = self._segment_prefix(key)
        found = [_obj(o) for page in self._pages(prefix) for o in page.get("Contents", [])]
        return sorted(found, key=lambda o: o.key)

    def _probe(self, key: str) -> _Probe:
        probe = _Probe(is_dir=key == "")
        if key == "":
            return probe
        has_segments = False
        for page in self._pages(key, "/"):
            for item in page.get("Contents", []):
                if item["Key"] == key:
                    probe.base = _obj(item)
            for common in page.get("CommonPrefixes", []):
                if common["Prefix"] == key + "/":
                    probe.is_dir = True
                elif common["Prefix"] == self._segment_prefix(key):
                    has_segments = True
        if has_segments and probe.base is None:
            probe.segments = self._segments(key)
        return probe

    def _file(self, path: str) -> _Probe:
        probe = self._probe(self.key(path))
        if not probe.is_file:
            raise PathNotFound(path)
        return probe

    def _delete_keys(self, keys: list[str]) -> None:
        for i in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[i:i + 1000]]
            self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})

    # ------------------------------------------------------------ small files

    def get_content(self, path: str) -> bytes:
        key = self.key(path)
        try:
            return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if not _not_found(exc):
                raise
        with self._open_segments(path, 0) as stream:  # a segmented file, or nothing
            return stream.read()

    def put_content(self, path: str, content: bytes) -> None:
        # A PUT replaces the object whole: readers see the old content or the new.
        key = self.key(path)
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=bytes(content))
        stale = [s.key for s in self._segments(key)]
        if stale:
            self._delete_keys(stale)

    # ------------------------------------------------------------ streams

    def reader(self, path: str, offset: int = 0) -> BinaryIO:
        return self._open(path, offset)

    def _open(self, path: str, offset: int) -> BinaryIO:
        key = self.key(path)
        try:
            # One request for the usual case, a plain object.
            response = self.s3.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={offset}-")
            first = _Object(key, int(response["ContentLength"]) + offset, 0.0)
            return io.BufferedReader(_ChainReader(self, [first], offset, response["Body"]),
                                     buffer_size=256 * 1024)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == "InvalidRange":  # offset at or past the end
                self.stat(path)  # PathNotFound if it vanished meanwhile
                return io.BytesIO(b"")  # type: ignore[return-value]
            if not _not_found(exc):
                raise
        return self._open_segments(path, offset)

    def _open_segments(self, path: str, offset: int) -> BinaryIO:
        probe = self._file(path)
        return io.BufferedReader(_ChainReader(self, probe.sources, offset),
                                 buffer_size=256 * 1024)

    def writer(self, path: str, append: bool = False) -> FileWriter:
        return _S3Writer(self, self.key(path), append)

    # ------------------------------------------------------------ metadata

    def stat(self, path: str) -> FileInfo:
        key = self.key(path)
        if key:
            try:
                head = self.s3.head_object(Bucket=self.bucket, Key=key)
                return FileInfo(path, int(head["ContentLength"]), False,
                                head["LastModified"].timestamp())
            except ClientError as exc:
                if not _not_found(exc):
                    raise
        probe = self._probe(key)
        if probe.is_file:
            return FileInfo(path, probe.size, False, probe.mtime)
        if probe.is_dir:
            # S3 has no directory times; "now" keeps age-based purges from taking a
            # directory for an old one.
            return FileInfo(path, 0, True, time.time())
        raise PathNotFound(path)

    def list(self, path: str) -> list[str]:
        key = self.key(path)
        prefix = self._dir_prefix(key)
        children: set[str] = set()
        for page in self._pages(prefix, "/"):
            for item in page.get("Contents", []):
                if item["Key"] != prefix:  # a "directory marker" some tools create
                    children.add(item["Key"])
            for common in page.get("CommonPrefixes", []):
                name = common["Prefix"][:-1]
                children.add(name[: -len(SEGMENTS)] if name.endswith(SEGMENTS) else name)
        if not children and key:
            raise PathNotFound(path)
        return sorted(self.path(k) for k in children)

    def walk(self, path: str) -> Iterator[FileInfo]:
        # One recursive listing instead of a list and a stat per directory; checked eagerly so
        # a missing path raises here, as list() would.
        key = self.key(path)
        pages = self._pages(self._dir_prefix(key))
        first = next(iter(pages), None)
        if key and (first is None or not first.get("Contents")):
            raise PathNotFound(path)
        return self._walk(key, first, pages)

    def _walk(self, key: str, first: dict[str, Any] | None,
              pages: Iterator[dict[str, Any]]) -> Iterator[FileInfo]:
        prefix = self._dir_prefix(key)
        seen_dirs: set[str] = set()
        held: list[Any] = []  # [key, size, mtime] of a segmented file being summed up

        def flush() -> Iterator[FileInfo]:
            if held:
                yield FileInfo(self.path(held[0]), held[1], False, held[2])
                held.clear()

        def items() -> Iterator[dict[str, Any]]:
            for page in ([first] if first else []):
                yield from page.get("Contents", [])
            for page in pages:
                yield from page.get("Contents", [])

        for item in items():
            obj = _obj(item)
            rel = obj.key[len(prefix):]
            parts = rel.split("/")
            owner = None
            if len(parts) >= 2 and parts[-2].endswith(SEGMENTS):
                parts = parts[:-1]
                parts[-1] = parts[-1][: -len(SEGMENTS)]
                owner = prefix + "/".join(parts)
            if held and owner != held[0]:
                yield from flush()
            for depth in range(1, len(parts)):
                directory = "/".join(parts[:depth])
                if directory not in seen_dirs:
                    seen_dirs.add(directory)
                    yield FileInfo(self.path(prefix + directory), 0, True, time.time())
            if owner is not None:
                if held:
                    held[1] += obj.size
                    held[2] = max(held[2], obj.mtime)
                else:
                    held.extend([owner, obj.size, obj.mtime])
            elif rel and not rel.endswith("/"):
                yield FileInfo(self.path(obj.key), obj.size, False, obj.mtime)
        yield from flush()

    # ------------------------------------------------------------ moving and deleting

    def move(self, source: str, dest: str) -> None:
        src = self._file(source)
        dest_key = self.key(dest)
        stale = self._segments(dest_key)
        self._compose(src.sources, dest_key)
        self._delete_keys([s.key for s in stale] + [s.key for s in src.sources])

    def _compose(self, sources: list[_Object], dest: str) -> None:
        """Write the concatenation of ``sources`` to ``dest``: server-side copies wherever
        S3's part rules allow, streaming at most one part through memory otherwise."""
        total = sum(s.size for s in sources)
        if len(sources) == 1 and sources[0].size <= MAX_COPY:
            self.s3.copy_object(Bucket=self.bucket, Key=dest,
                                CopySource={"Bucket": self.bucket, "Key": sources[0].key})
            return
        if total < MIN_PART:
            body = b"".join(self._range(s.key, 0, s.size) for s in sources if s.size)
            self.s3.put_object(Bucket=self.bucket, Key=dest, Body=body)
            return
        upload = _Multipart(self, dest)
        try:
            buffer = bytearray()
            for source in sources:
                pos = 0
                while pos < source.size:
                    remaining = source.size - pos
                    if not buffer and remaining >= MIN_PART:
                        n = min(remaining, MAX_COPY)
                        upload.copy_part(source.key, pos, n)
                        pos += n
                        continue
                    n = min(self.part_size - len(buffer), remaining)
                    buffer += self._range(source.key, pos, n)
                    pos += n
                    if len(buffer) >= self.part_size:
                        upload.part(buffer)
                        buffer = bytearray()
            if buffer:
                upload.part(buffer)  # the last part may be small
            upload.complete()
        except BaseException:
            upload.abort()
            raise

    def _range(self, key: str, start: int, length: int) -> bytes:
        response = self.s3.get_object(Bucket=self.bucket, Key=key,
                                      Range=f"bytes={start}-{start + length - 1}")
        return response["Body"].read()

    def delete(self, path: str) -> None:
        key = self.key(path)
        doomed: list[str] = []
        for page in self._pages(key):
            for item in page.get("Contents", []):
                k = item["Key"]
                if (not key or k == key or k.startswith(key + "/")
                        or k.startswith(self._segment_prefix(key))):
                    doomed.append(k)
        if not doomed:
            raise PathNotFound(path)
        self._delete_keys(doomed)


class _Multipart:
    """One S3 multipart upload, created on the first part."""

    def __init__(self, driver: S3Driver, key: str):
        self.driver = driver
        self.key = key
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []

    def _start(self) -> str:
        if self.upload_id is None:
            self.upload_id = self.driver.s3.create_multipart_upload(
                Bucket=self.driver.bucket, Key=self.key)["UploadId"]
        return self.upload_id

    def part(self, data: bytes | bytearray | memoryview) -> None:
        upload_id = self._start()
        number = len(self.parts) + 1
        etag = self.driver.s3.upload_part(Bucket=self.driver.bucket, Key=self.key,
                                          UploadId=upload_id, PartNumber=number,
                                          Body=bytes(data))["ETag"]
        self.parts.append({"PartNumber": number, "ETag": etag})

    def copy_part(self, source: str, start: int, length: int) -> None:
        upload_id = self._start()
        number = len(self.parts) + 1
        result = self.driver.s3.upload_part_copy(
            Bucket=self.driver.bucket, Key=self.key, UploadId=upload_id, PartNumber=number,
            CopySource={"Bucket": self.driver.bucket, "Key": source},
            CopySourceRange=f"bytes={start}-{start + length - 1}")
        self.parts.append({"PartNumber": number, "ETag": result["CopyPartResult"]["ETag"]})

    def complete(self) -> None:
        self.driver.s3.complete_multipart_upload(
            Bucket=self.driver.bucket, Key=self.key, UploadId=self._start(),
            MultipartUpload={"Parts": self.parts})
        self.upload_id = None

    def abort(self) -> None:
        if self.upload_id is not None:
            try:
                self.driver.s3.abort_multipart_upload(Bucket=self.driver.bucket, Key=self.key,
                                                      UploadId=self.upload_id)
            finally:
                self.upload_id = None


class _S3Writer(FileWriter):
    """Streams one writer session into one object (the file itself, or its next segment):
    full parts go out as they fill, so at most one part is held in memory; the rest goes out
    on close or commit. :meth:`cancel` abandons this session's bytes only."""

    def __init__(self, driver: S3Driver, key: str, append: bool):
        self.driver = driver
        self.key = key
        self.append = append
        self._existing = 0
        if append:
            probe = driver._probe(key)
            self._existing = probe.size
            segments = probe.segments
            if probe.base is not None and probe.base.size:
                # A plain object becomes segment 1, so this session can be segment 2.
                first = key + SEGMENTS + "/" + f"{1:08d}"
                driver._compose([probe.base], first)
                segments = [_Object(first, probe.base.size, probe.base.mtime)]
            if probe.base is not None:
                driver.s3.delete_object(Bucket=driver.bucket, Key=key)
            number = int(segments[-1].key.rsplit("/", 1)[1]) + 1 if segments else 1
            self.target = driver._segment_prefix(key) + f"{number:08d}"
        else:
            self.target = key
        self._upload = _Multipart(driver, self.target)
        self._buffer = bytearray()
        self._written = 0
        self._done = False

    def write(self, data: bytes) -> int:
        if self._done:
            raise ValueError("write to a closed writer")
        view = memoryview(data)
        total = len(view)
        part = self.driver.part_size
        while view:
            if not self._buffer and len(view) >= part:
                self._upload.part(view[:part])  # straight from the caller's buffer
                view = view[part:]
                continue
            take = min(part - len(self._buffer), len(view))
            self._buffer += view[:take]
            view = view[take:]
            if len(self._buffer) >= part:
                self._upload.part(self._buffer)
                self._buffer = bytearray()
        self._written += total
        return total

    @property
    def size(self) -> int:
        return self._existing + self._written

    def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        try:
            if self._upload.upload_id is not None:
                if self._buffer:
                    self._upload.part(self._buffer)
                self._upload.complete()
            elif self._buffer or not self.append:
                # A new file exists even when empty; an empty append adds no segment.
                self.driver.s3.put_object(Bucket=self.driver.bucket, Key=self.target,
                                          Body=bytes(self._buffer))
        except BaseException:
            self._upload.abort()
            raise
        finally:
            self._buffer = bytearray()
        if not self.append:
            stale = [s.key for s in self.driver._segments(self.key)]
            if stale:
                self.driver._delete_keys(stale)

    def commit(self) -> None:
        self._finish()

    def cancel(self) -> None:
        if self._done:
            return
        self._done = True
        self._buffer = bytearray()
        self._upload.abort()

    def close(self) -> None:
        self._finish()


class _ChainReader(io.RawIOBase):
    """The concatenation of ``sources`` as one seekable stream, read through one ranged GET
    at a time. ``body``, when given, already streams the first source from ``offset``; a
    seek drops the open GET and the next read starts another at the new position."""

    def __init__(self, driver: S3Driver, sources: list[_Object], offset: int,
                 body: Any = None):
        self.driver = driver
        self.sources = [s for s in sources if s.size]
        self.starts: list[int] = []
        total = 0
        for s in self.sources:
            self.starts.append(total)
            total += s.size
        self.total = total
        self.pos = min(offset, total)
        self.body = body
        self.body_end = self.sources[0].size if body is not None and self.sources else 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.total}[whence]
        target = max(0, base + offset)
        if target != self.pos:
            self._drop()
            self.pos = target
        return self.pos

    def _drop(self) -> None:
        if self.body is not None:
            self.body.close()
            self.body = None

    def _open_at_pos(self) -> None:
        index = max(i for i, start in enumerate(self.starts) if start <= self.pos)
        source, start = self.sources[index], self.starts[index]
        try:
            self.body = self.driver.s3.get_object(
                Bucket=self.driver.bucket, Key=source.key,
                Range=f"bytes={self.pos - start}-{source.size - 1}")["Body"]
        except ClientError as exc:
            if _not_found(exc):
                raise PathNotFound(self.driver.path(source.key)) from None
            raise
        self.body_end = start + source.size

    def readinto(self, buffer: Any) -> int:
        while True:
            if self.pos >= self.total:
                self._drop()
                return 0
            if self.body is None:
                self._open_at_pos()
            data = self.body.read(min(len(buffer), self.body_end - self.pos))
            if data:
                n = len(data)
                buffer[:n] = data
                self.pos += n
                return n
            if self.pos < self.body_end:
                raise OSError(f"s3 object ended early at byte {self.pos} of {self.total}")
            self._drop()

    def close(self) -> None:
        self._drop()
        super().close()
