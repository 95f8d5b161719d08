"""On the Redis broker, queued events are only as safe as Redis keeps them. ``registry serve``
and ``registry notifier`` read its persistence settings at start and say, once each, when a
restart would lose events; deliveries go on either way."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import free_port, start_private_redis
from tests.integration.notifications.support import endpoint, make_event, start_serve

pytestmark = pytest.mark.integration

WARNING = "WARNING redis broker does not keep events across a restart"


def settings(name: str, workdir: Path) -> list[str]:
    return {
        "memory": ["--save", "", "--appendonly", "no"],
        "snapshots": ["--save", "3600 1", "--appendonly", "no", "--dir", str(workdir)],
        "appendonly": ["--save", "", "--appendonly", "yes", "--dir", str(workdir)],
        "config-refused": ["--save", "", "--appendonly", "no", "--rename-command", "CONFIG", ""],
    }[name]


@pytest.mark.parametrize("redis_settings, problem", [
    ("memory", "nothing on disk (no appendonly, no save): every queued event is lost"),
    ("snapshots", "snapshots only (save, no appendonly): events since the last snapshot are lost"),
    ("appendonly", None),
    ("config-refused", None),
])
def test_serve_and_notifier_warn_once_when_redis_would_lose_queued_events(
        tmp_path, receivers, deployments, notifiers, redis_settings, problem):
    port = free_port()
    redis = start_private_redis(port, *settings(redis_settings, tmp_path))
    serve = None
    try:
        hook = receivers()
        d = deployments(f"redis://127.0.0.1:{port}/0", [endpoint("persist", hook.url)])
        notifier = notifiers(d)  # returns once it consumes: the check comes before
        serve, _ = start_serve(d)  # answers once gunicorn runs: the check came before
        for process in (notifier, serve):
            log = process.log()
            warnings = [line for line in log.splitlines() if WARNING in line]
            if problem is None:
                assert warnings == [], log
            else:
                assert len(warnings) == 1, log
                assert re.search(rf'{WARNING} problem="{re.escape(problem)}" '
                                 r'fix="appendonly yes"$', warnings[0]), warnings
            refused = "redis broker persistence unknown, CONFIG GET refused" in log
            assert refused == (redis_settings == "config-refused"), log

        event = make_event()
        d.publish(event)
        (request,) = hook.wait_for(1)
        assert request.json == event.to_dict()
    finally:
        if serve is not None:
            serve.stop()
        redis.terminate()
        try:
            redis.wait(10)
        except subprocess.TimeoutExpired:
            redis.kill()
