"""Fixtures for the registry API tests (helpers live in registry_api.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.registry.registry_api import Api, build_api
from tests.integration.registry.registry_procs import ServeProcess


@pytest.fixture
def api(tmp_path) -> Api:
    return build_api(tmp_path, delete={"enabled": True})


@pytest.fixture
def pair(tmp_path) -> Iterator[tuple[ServeProcess, ServeProcess]]:
    """Two ``registry serve`` processes on one storage root."""
    root = tmp_path / "root"
    a = ServeProcess(root, tmp_path, "a").start()
    b = ServeProcess(root, tmp_path, "b").start()
    yield a, b
    a.kill()
    b.kill()
