"""The inmemory driver: a dict of paths, for tests and throw-away registries."""

from __future__ import annotations

import io
import threading
import time
from typing import BinaryIO

from services.registry.storage.driver import FileInfo, FileWriter, PathNotFound, StorageDriver


def _norm(path: str) -> str:
    parts = [p for p in path.split("/") if p]
    return "/" + "/".join(parts)


class _MemoryWriter(FileWriter):
    def __init__(self, driver: InMemoryDriver, path: str, append: bool):
        self._driver = driver
        self._path = path
        with driver._lock:
            existing = driver._files.get(path) if append else None
            self._buffer = bytearray(existing[0]) if existing else bytearray()
        self._start = len(self._buffer)

    def write(self, data: bytes) -> int:
        self._buffer += data
        return len(data)

    @property
    def size(self) -> int:
        return len(self._buffer)

    def commit(self) -> None:
        self._driver._store(self._path, bytes(self._buffer))

    def cancel(self) -> None:
        del self._buffer[self._start:]

    def close(self) -> None:
        # What was written stays appendable, as with the filesystem driver.
        if len(self._buffer) != self._start:
            self._driver._store(self._path, bytes(self._buffer))
            self._start = len(self._buffer)


class InMemoryDriver(StorageDriver):
    name = "inmemory"

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._files: dict[str, tuple[bytes, float]] = {}

    def _store(self, path: str, content: bytes) -> None:
        with self._lock:
            self._files[path] = (content, time.time())

    def _is_dir(self, path: str) -> bool:
        prefix = path.rstrip("/") + "/"
        return any(p.startswith(prefix) for p in self._files)

    def get_content(self, path: str) -> bytes:
        path = _norm(path)
        with self._lock:
            if path not in self._files:
                raise PathNotFound(path)
            return self._files[path][0]

    def put_content(self, path: str, content: bytes) -> None:
        self._store(_norm(path), bytes(content))

    def reader(self, path: str, offset: int = 0) -> BinaryIO:
        stream = io.BytesIO(self.get_content(path))
        stream.seek(offset)
        return stream

    def writer(self, path: str, append: bool = False) -> FileWriter:
        return _MemoryWriter(self, _norm(path), append)

    def stat(self, path: str) -> FileInfo:
        path = _norm(path)
        with self._lock:
            if path in self._files:
                content, mtime = self._files[path]
                return FileInfo(path=path, size=len(content), is_dir=False, mod_time=mtime)
            if path == "/" or self._is_dir(path):
                return FileInfo(path=path, size=0, is_dir=True, mod_time=time.time())
        raise PathNotFound(path)

    def list(self, path: str) -> list[str]:
        path = _norm(path)
        prefix = "/" if path == "/" else path + "/"
        with self._lock:
            children = {prefix + p[len(prefix):].split("/", 1)[0]
                        for p in self._files if p.startswith(prefix)}
        if not children and path != "/":
            raise PathNotFound(path)
        return sorted(children)

    def move(self, source: str, dest: str) -> None:
        source, dest = _norm(source), _norm(dest)
        with self._lock:
            if source not in self._files:
                raise PathNotFound(source)
            self._files[dest] = self._files.pop(source)

    def delete(self, path: str) -> None:
        path = _norm(path)
        prefix = path.rstrip("/") + "/"
        with self._lock:
            doomed = [p for p in self._files if p == path or p.startswith(prefix)]
            if not doomed:
                raise PathNotFound(path)
            for p in doomed:
                del self._files[p]
