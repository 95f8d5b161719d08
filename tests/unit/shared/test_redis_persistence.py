"""What a restart of the Redis broker would lose, read from its persistence settings."""

from __future__ import annotations

import pytest

from shared.broker.redis_transport import persistence_gap


@pytest.mark.parametrize("settings", [
    {"appendonly": "yes", "appendfsync": "always", "save": ""},
    {"appendonly": "yes", "appendfsync": "everysec", "save": "3600 1"},
])
def test_an_append_only_file_flushed_by_redis_loses_nothing_acknowledged(settings):
    assert persistence_gap(settings) is None


def test_appendfsync_no_leaves_the_flush_to_the_kernel():
    gap = persistence_gap({"appendonly": "yes", "appendfsync": "no", "save": ""})
    assert gap is not None and gap.startswith("appendfsync no:")


def test_snapshots_alone_lose_what_came_after_the_last_one():
    gap = persistence_gap({"appendonly": "no", "appendfsync": "everysec", "save": "3600 1 300 100"})
    assert gap is not None and gap.startswith("snapshots only")


@pytest.mark.parametrize("save", ["", "  "])
def test_neither_file_nor_snapshot_loses_everything(save):
    gap = persistence_gap({"appendonly": "no", "appendfsync": "everysec", "save": save})
    assert gap is not None and gap.startswith("nothing on disk")
