"""redis-py is imported only where Redis is configured: it takes about a quarter of a second to
import, more than half of what every registry, notifier and command imported to start."""

from __future__ import annotations

import subprocess
import sys

from tests.integration.notifications.support import REPO_ROOT

ENTRY_POINTS = ("services.cli", "services.registry.server", "services.registry.http.app",
                "services.notifier.service", "services.console.app", "shared.operations")


def test_starting_without_redis_configured_does_not_import_redis():
    script = ("import sys\n"
              f"for name in {ENTRY_POINTS!r}:\n"
              "    __import__(name)\n"
              "print(sorted(m for m in sys.modules if m == 'redis' or m.startswith('redis.')))\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
