"""Shaping responses: URLs in headers, upload headers, blob bodies with sendfile."""

from __future__ import annotations

import io
import re
from typing import BinaryIO

import falcon

from services.registry.domain.uploads import UploadStatus

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")  # fullmatch


def location(req: falcon.Request, base_url: str, relative: bool, path: str) -> str:
    return path if relative else f"{base_url}{path}"


def upload_range(offset: int) -> str:
    # The reference answers "0-0" for an empty upload too.
    return f"0-{max(offset - 1, 0)}"


def set_upload_headers(resp: falcon.Response, url: str, status: UploadStatus) -> None:
    resp.set_header("Location", url)
    resp.set_header("Range", upload_range(status.offset))
    resp.set_header("Docker-Upload-UUID", status.uuid)
    resp.content_length = 0


class FileRange(io.RawIOBase):
    """A window of an open file. ``fileno`` is the real file's, positioned at the window, so
    gunicorn's sendfile sends Content-Length bytes from there; ``read`` stops at the window's
    end for servers that read instead."""

    def __init__(self, f: BinaryIO, start: int, length: int):
        super().__init__()
        self._f = f
        self._left = length
        f.seek(start)

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._f.fileno()

    # socket.sendfile (gunicorn's path) seeks the file to where it stopped after sending;
    # without these it raises after the bytes went out and the keep-alive connection dies.
    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._f.seek(offset, whence)

    def tell(self) -> int:
        return self._f.tell()

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        size = self._left if size is None or size < 0 else min(size, self._left)
        data = self._f.read(size)
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._f.close()
        super().close()


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """A single ``bytes=`` range as (start, length); None to serve everything (no header, or
    several ranges, which we may ignore); raises ValueError when it cannot be satisfied."""
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip().replace(" ", ""))
    if not match:
        if "," in header:
            return None
        raise ValueError(header)
    first, last = match.groups()
    if first == "" and last == "":
        raise ValueError(header)
    if first == "":
        suffix = int(last)
        if suffix == 0 or size == 0:  # nothing to take the last bytes of (RFC 9110 14.1.2)
            raise ValueError(header)
        start = max(size - suffix, 0)
        return start, size - start
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        raise ValueError(header)
    return start, end - start + 1
