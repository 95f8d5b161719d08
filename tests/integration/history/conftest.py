"""Fixtures for the delivery history tests: the history's database on SQLite and on the
machine's PostgreSQL (a schema of its own per test, dropped afterwards), and the notification
tests' receivers, deployments and notifier processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import postgres_schema
from tests.integration.notifications.conftest import (  # noqa: F401 - fixtures used here
    deployments,
    notifiers,
    receivers,
    uid,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def history(request, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The ``notifications.history`` section of a test's config."""
    if request.param == "sqlite":
        yield {"url": f"sqlite:///{tmp_path / 'history' / 'history.db'}"}
        return
    url = request.getfixturevalue("postgres_url")
    with postgres_schema(url) as schema_url:
        yield {"url": schema_url}
