"""``registry_storage_action_seconds{driver,action}`` for every driver, measured in one place.

:func:`services.registry.storage.build_driver` wraps whatever driver the config names in a
:class:`TimedDriver`, so filesystem, inmemory and s3 report the same actions (the reference's
names: ``GetContent``, ``PutContent``, ``Reader``, ``Writer``, ``Stat``, ``List``, ``Move``,
``Delete``, ``Walk``, plus ``WriterCommit``) and no driver times itself. The wrapper is
composition, not a subclass hook: a driver's methods calling each other internally (``walk``
calling ``stat``) stay one observation, the outer call.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, BinaryIO

from services.registry.metrics import storage_action
from services.registry.storage.driver import FileInfo, FileWriter, StorageDriver, T


class _Timer:
    """Observes the time its block took: prometheus-client's own ``time()`` is a decorator
    and context manager in one, costlier for the several storage calls of every request."""

    __slots__ = ("_child", "_started")

    def __init__(self, child: Any):
        self._child = child

    def __enter__(self) -> None:
        self._started = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self._child.observe(time.perf_counter() - self._started)


class _TimedWriter(FileWriter):
    """Times ``commit`` (where S3 completes its multipart upload, a rename on disk); single
    ``write`` calls are too many and too small to be worth a histogram observation each."""

    def __init__(self, inner: FileWriter, driver: str):
        self._inner = inner
        self._driver = driver

    def write(self, data: bytes) -> int:
        return self._inner.write(data)

    @property
    def size(self) -> int:
        return self._inner.size

    def commit(self) -> None:
        with _Timer(storage_action(self._driver, "WriterCommit")):
            self._inner.commit()

    def cancel(self) -> None:
        self._inner.cancel()

    def close(self) -> None:
        self._inner.close()


class TimedDriver(StorageDriver):
    """Delegates every call to ``inner`` and records how long it took."""

    def __init__(self, inner: StorageDriver):
        self.inner = inner
        self.name = inner.name

    def _timer(self, action: str) -> _Timer:
        return _Timer(storage_action(self.name, action))

    def get_content(self, path: str) -> bytes:
        with self._timer("GetContent"):
            return self.inner.get_content(path)

    def put_content(self, path: str, content: bytes) -> None:
        with self._timer("PutContent"):
            self.inner.put_content(path, content)

    def put_contents(self, items: Sequence[tuple[str, bytes]]) -> None:
        with self._timer("PutContent"):  # one observation: the files are written together
            self.inner.put_contents(items)

    def reader(self, path: str, offset: int = 0) -> BinaryIO:
        # Opening the stream, as the reference times it; reading is the client's pace.
        with self._timer("Reader"):
            return self.inner.reader(path, offset)

    def writer(self, path: str, append: bool = False) -> FileWriter:
        with self._timer("Writer"):
            return _TimedWriter(self.inner.writer(path, append), self.name)

    def stat(self, path: str) -> FileInfo:
        with self._timer("Stat"):
            return self.inner.stat(path)

    def list(self, path: str) -> list[str]:
        with self._timer("List"):
            return self.inner.list(path)

    def list_names(self, path: str) -> list[str]:
        with self._timer("List"):
            return self.inner.list_names(path)

    def move(self, source: str, dest: str) -> None:
        with self._timer("Move"):
            self.inner.move(source, dest)

    def delete(self, path: str) -> None:
        with self._timer("Delete"):
            self.inner.delete(path)

    def walk(self, path: str) -> Iterator[FileInfo]:
        # A walk is lazy: count the time spent inside the driver (the call, which may check the
        # path eagerly, and each step), not the caller's work between steps.
        started = time.perf_counter()
        try:
            items = iter(self.inner.walk(path))  # may raise PathNotFound here, as S3's does
        except Exception:
            storage_action(self.name, "Walk").observe(time.perf_counter() - started)
            raise
        return self._timed_steps(items, time.perf_counter() - started)

    def walk_with(self, steps: Callable[[StorageDriver], Iterator[T]]) -> Iterator[T]:
        # The steps call the inner driver: none of their listings is observed on its own.
        return self._timed_steps(steps(self.inner), 0.0)

    def _timed_steps(self, items: Iterator[T], spent: float) -> Iterator[T]:
        try:
            while True:
                started = time.perf_counter()
                try:
                    item = next(items)
                except StopIteration:
                    spent += time.perf_counter() - started
                    return
                spent += time.perf_counter() - started
                yield item
        finally:
            storage_action(self.name, "Walk").observe(spent)

    def exists(self, path: str) -> bool:
        with self._timer("Stat"):
            return self.inner.exists(path)

    def local_path(self, path: str) -> str | None:
        return self.inner.local_path(path)

    def exclusive(self, directory: str) -> AbstractContextManager[None]:
        return self.inner.exclusive(directory)

    def __getattr__(self, attr: str) -> Any:
        # Driver-specific extras (the filesystem's ``root``, the S3 client) stay reachable;
        # only called for names this class does not define.
        if attr == "inner":  # not set yet (copy, unpickle): no recursion
            raise AttributeError(attr)
        return getattr(self.inner, attr)
