"""Upload purging (``storage.maintenance.uploadpurging``): upload sessions older than ``age``
are abandoned and removed, as the reference does, so interrupted pushes do not fill the disk."""

from __future__ import annotations

import calendar
import time

from services.registry.domain import layout
from services.registry.storage.driver import LockBusy, PathNotFound, StorageDriver


def _started_at(driver: StorageDriver, upload_dir: str) -> float | None:
    try:
        text = driver.get_content(f"{upload_dir}/startedat").decode().strip()
        return calendar.timegm(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S"))
    except (PathNotFound, ValueError, UnicodeDecodeError):
        pass
    try:
        return driver.stat(upload_dir).mod_time
    except PathNotFound:
        return None


def _upload_dirs(driver: StorageDriver, path: str) -> list[str]:
    out: list[str] = []
    try:
        children = driver.list(path)
    except PathNotFound:
        return out
    for child in children:
        leaf = child.rsplit("/", 1)[-1]
        if leaf == "_uploads":
            try:
                out.extend(driver.list(child))
            except PathNotFound:
                continue
        elif not leaf.startswith("_"):
            # A file, or a folder deleted since, lists as PathNotFound: no stat first.
            out.extend(_upload_dirs(driver, child))
    return out


def purge_uploads(driver: StorageDriver, age: float, dry_run: bool = False,
                  now: float | None = None) -> list[str]:
    """Remove upload sessions started more than ``age`` seconds ago; returns their paths."""
    now = time.time() if now is None else now
    purged = []
    for upload_dir in _upload_dirs(driver, layout.REPOSITORIES):
        started = _started_at(driver, upload_dir)
        if started is None or now - started <= age:
            continue
        if dry_run:
            purged.append(upload_dir)
            continue
        try:
            # A session a request is still writing to is not abandoned, however old.
            with driver.exclusive(upload_dir):
                driver.delete(upload_dir)
        except (PathNotFound, LockBusy):
            continue
        purged.append(upload_dir)
    return purged
