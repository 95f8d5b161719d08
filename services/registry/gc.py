"""``registry garbage-collect``: mark and sweep, as the reference's ``garbage-collect``.

Mark: every manifest revision of every repository, and every blob a kept manifest references
(config, layers, child manifests). With ``delete_untagged``, a manifest no tag reaches (directly
or through a tagged index, or as a referrer of a kept manifest) is deleted first. Sweep: every
blob in the content store that was not marked is removed, with the repository links to it.
Run it while the registry is read-only or stopped, as with the reference.
"""

from __future__ import annotations

import json
from typing import TextIO

from services.registry.domain import layout
from services.registry.domain.catalog import repositories
from services.registry.domain.digests import is_digest
from services.registry.domain.manifests import JSON_ERRORS
from services.registry.storage import PathNotFound, StorageDriver, build_driver
from shared.config import Config


def _children(driver: StorageDriver, path: str) -> list[str]:
    try:
        return driver.list(path)
    except PathNotFound:
        return []


def _leaf(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def _revisions(driver: StorageDriver, repo: str) -> list[str]:
    out = []
    for alg_dir in _children(driver, layout.revisions(repo)):
        for entry in _children(driver, alg_dir):
            digest = f"{_leaf(alg_dir)}:{_leaf(entry)}"
            if is_digest(digest) and driver.exists(f"{entry}/link"):
                out.append(digest)
    return sorted(out)


def _tagged(driver: StorageDriver, repo: str) -> set[str]:
    out = set()
    for tag_dir in _children(driver, layout.tags(repo)):
        try:
            out.add(driver.get_content(f"{tag_dir}/current/link").decode().strip())
        except (PathNotFound, UnicodeDecodeError):
            continue
    return out


def _parse(driver: StorageDriver, digest: str) -> dict | None:
    try:
        doc = json.loads(driver.get_content(layout.blob_data(digest)))
    except (PathNotFound, *JSON_ERRORS):
        return None
    return doc if isinstance(doc, dict) else None


def _references(doc: dict) -> list[str]:
    refs = []
    if isinstance(doc.get("config"), dict):
        refs.append(doc["config"].get("digest"))
    for key in ("layers", "manifests", "blobs"):
        for desc in doc.get(key) or []:
            if isinstance(desc, dict):
                refs.append(desc.get("digest"))
    return [r for r in refs if isinstance(r, str) and is_digest(r)]


def _kept_manifests(driver: StorageDriver, revisions: list[str], tagged: set[str],
                    docs: dict[str, dict]) -> set[str]:
    """Tagged manifests, what tagged indexes reach, and referrers of anything kept."""
    kept = {d for d in revisions if d in tagged}
    changed = True
    while changed:
        changed = False
        for digest in revisions:
            if digest in kept:
                continue
            doc = docs.get(digest) or {}
            subject = (doc.get("subject") or {}).get("digest") if isinstance(
                doc.get("subject"), dict) else None
            parents = any(digest in _references(docs.get(k) or {}) for k in kept)
            if parents or (subject and subject in kept):
                kept.add(digest)
                changed = True
    return kept


def _delete(driver: StorageDriver, path: str) -> None:
    try:
        driver.delete(path)
    except PathNotFound:
        pass


def garbage_collect(config: Config, dry_run: bool = False, delete_untagged: bool = False,
                    out: TextIO | None = None, driver: StorageDriver | None = None) -> int:
    import sys

    out = out or sys.stdout
    driver = driver or build_driver(config)
    marked: set[str] = set()
    deleted_manifests = 0
    for repo in repositories(driver):
        revisions = _revisions(driver, repo)
        docs = {d: doc for d in revisions if (doc := _parse(driver, d)) is not None}
        kept = set(revisions)
        if delete_untagged:
            kept = _kept_manifests(driver, revisions, _tagged(driver, repo), docs)
        for digest in revisions:
            if digest not in kept:
                print(f"{repo}: manifest eligible for deletion: {digest}", file=out)
                deleted_manifests += 1
                if not dry_run:
                    _delete(driver, layout.revision_dir(repo, digest))
                    for tag_dir in _children(driver, layout.tags(repo)):
                        _delete(driver, layout.tag_index_link(repo, _leaf(tag_dir), digest)
                                .rsplit("/", 1)[0])
                continue
            print(f"{repo}: marking manifest {digest}", file=out)
            marked.add(digest)
            for ref in _references(docs.get(digest) or {}):
                if ref not in marked:
                    print(f"{repo}: marking blob {ref}", file=out)
                marked.add(ref)

    swept = []
    for alg_dir in _children(driver, layout.BLOBS):
        for prefix_dir in _children(driver, alg_dir):
            for blob_dir in _children(driver, prefix_dir):
                digest = f"{_leaf(alg_dir)}:{_leaf(blob_dir)}"
                if digest not in marked:
                    swept.append(digest)
    for digest in swept:
        print(f"blob eligible for deletion: {digest}", file=out)
        if not dry_run:
            _delete(driver, layout.blob_dir(digest))
    if not dry_run and swept:
        doomed = set(swept)
        for repo in repositories(driver) + _layer_only_repositories(driver):
            for alg_dir in _children(driver, layout.layers(repo)):
                for entry in _children(driver, alg_dir):
                    if f"{_leaf(alg_dir)}:{_leaf(entry)}" in doomed:
                        _delete(driver, entry)
    print(f"\n{len(marked)} blobs marked, {len(swept)} blobs and {deleted_manifests} manifests "
          f"eligible for deletion", file=out)
    return 0


def _layer_only_repositories(driver: StorageDriver) -> list[str]:
    """Repositories with blobs but no manifest folder (pushes that never finished)."""
    found: list[str] = []
    prefix = layout.REPOSITORIES + "/"

    def visit(path: str) -> None:
        children = _children(driver, path)
        leaves = {_leaf(c) for c in children}
        if "_layers" in leaves and "_manifests" not in leaves:
            found.append(path[len(prefix):])
        for child in children:
            if not _leaf(child).startswith("_") and driver.stat(child).is_dir:
                visit(child)

    visit(layout.REPOSITORIES)
    return found
