"""A real browser for the console's tests: Playwright driving Debian's Chromium (the
``chromium`` package; Playwright's own browser downloads are never used), and where the
screenshots go."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("chromium is not installed: run `make system-deps` (.ci/install-debian-packages)")
    return path


@contextmanager
def chromium() -> Iterator[object]:
    """A headless Chromium (Playwright's ``Browser``), closed on exit."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        pytest.fail(f"playwright is not importable ({exc}): pip install -e '.[test]'")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def screenshot_dir(name: str) -> Path:
    """``tests/artifacts/<name>/`` (git-ignored), emptied first."""
    folder = ARTIFACTS / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder
