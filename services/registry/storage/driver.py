"""The storage driver interface: a small file system, as the reference registry's drivers are.

Paths are absolute, ``/``-separated, relative to the driver's root (``/docker/registry/v2/...``).
The domain layer lays out the reference's tree on top of it; a driver knows nothing of blobs,
manifests or repositories.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import BinaryIO, TypeVar

T = TypeVar("T")


class PathNotFound(FileNotFoundError):
    def __init__(self, path: str):
        super().__init__(f"path not found: {path}")
        self.path = path


class LockBusy(Exception):
    """Another holder has the lock: :meth:`StorageDriver.exclusive` does not wait."""

    def __init__(self, path: str):
        super().__init__(f"lock busy: {path}")
        self.path = path


class _ProcessLocks:
    """Named non-blocking locks among this process's threads; a name is forgotten once its
    holder lets go."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._held: set[str] = set()

    @contextmanager
    def hold(self, name: str) -> Iterator[None]:
        with self._guard:
            if name in self._held:
                raise LockBusy(name)
            self._held.add(name)
        try:
            yield
        finally:
            with self._guard:
                self._held.discard(name)


_process_locks = _ProcessLocks()


@dataclass(frozen=True)
class FileInfo:
    path: str
    size: int
    is_dir: bool
    mod_time: float


class FileWriter(ABC):
    """An open file being written. Bytes are not visible at its path until :meth:`commit`
    (drivers that can write in place may make them visible earlier; the domain layer never
    relies on either)."""

    @abstractmethod
    def write(self, data: bytes) -> int: ...

    @property
    @abstractmethod
    def size(self) -> int:
        """Bytes in the file, counting those written before this writer was opened."""

    @abstractmethod
    def commit(self) -> None:
        """Make the content durable at its path."""

    @abstractmethod
    def cancel(self) -> None:
        """Abandon the content."""

    @abstractmethod
    def close(self) -> None:
        """Release the handle; what was written so far stays appendable."""

    def __enter__(self) -> FileWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class StorageDriver(ABC):
    name: str = "abstract"

    @abstractmethod
    def get_content(self, path: str) -> bytes: ...

    @abstractmethod
    def put_content(self, path: str, content: bytes) -> None:
        """Write a small file atomically: readers see the old content or the new, never a mix."""

    def put_contents(self, items: Sequence[tuple[str, bytes]]) -> None:
        """Write several small files, each as :meth:`put_content` does, made visible in the
        order given: whoever sees one (a reader, or the storage after a crash) sees every one
        before it. Drivers that can make them durable together do (one wait for the disk
        instead of one per file)."""
        for path, content in items:
            self.put_content(path, content)

    @abstractmethod
    def reader(self, path: str, offset: int = 0) -> BinaryIO: ...

    @abstractmethod
    def writer(self, path: str, append: bool = False) -> FileWriter: ...

    @abstractmethod
    def stat(self, path: str) -> FileInfo: ...

    @abstractmethod
    def list(self, path: str) -> list[str]:
        """Full paths of the direct children of a directory."""

    def list_names(self, path: str) -> list[str]:
        """The names (not paths) of the direct children of a directory, sorted: what a walk of
        the tree looks at, a folder at a time (the catalog lists one per repository)."""
        return [child.rsplit("/", 1)[-1] for child in self.list(path)]

    @abstractmethod
    def move(self, source: str, dest: str) -> None:
        """Atomic where the backend allows it; ``dest`` is replaced."""

    @abstractmethod
    def delete(self, path: str) -> None:
        """Delete a file or a whole directory tree."""

    def walk_with(self, steps: Callable[[StorageDriver], Iterator[T]]) -> Iterator[T]:
        """``steps(driver)``: a walk of the tree made of the driver's own calls (the catalog's:
        a listing per folder), timed where calls are timed as one ``Walk``, not one ``List`` a
        folder. The reference's catalog is one ``Walk`` too, and an observation per folder cost
        10,000 repositories' catalog a fifth of its time."""
        return steps(self)

    def walk(self, path: str) -> Iterator[FileInfo]:
        """Every file and directory under ``path``, depth first."""
        for child in self.list(path):
            info = self.stat(child)
            yield info
            if info.is_dir:
                yield from self.walk(child)

    def exists(self, path: str) -> bool:
        try:
            self.stat(path)
        except PathNotFound:
            return False
        return True

    def local_path(self, path: str) -> str | None:
        """A path on the local file system, where the driver has one (for sendfile)."""
        return None

    def exclusive(self, directory: str) -> AbstractContextManager[None]:
        """Hold the lock of ``directory`` while the context is open; :class:`LockBusy` at once
        if someone else holds it. Drivers whose storage several processes share exclude all of
        them (the filesystem driver); this version, only the threads of this process."""
        return _process_locks.hold(f"{id(self)}:{directory}")
