"""Fixtures for the registry API tests (helpers live in registry_api.py)."""

from __future__ import annotations

import pytest

from tests.integration.registry.registry_api import Api, build_api


@pytest.fixture
def api(tmp_path) -> Api:
    return build_api(tmp_path, delete={"enabled": True})
