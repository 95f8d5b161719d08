"""Fixtures every test folder may use: the machine's RabbitMQ, Redis and PostgreSQL, free
ports, skopeo.

A missing service is a test failure, never a skip: the suite proves the registry against real
parts, and CI (CI=true) must not go green without them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
REDIS_ADDR = os.environ.get("TEST_REDIS_ADDR", "127.0.0.1:6379")
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_tool(name: str) -> str:
    """The path of a command-line tool the test drives; a missing one fails the test."""
    path = shutil.which(name)
    if not path:
        pytest.fail(f"{name} is not installed: run `make system-deps` (.ci/install-debian-packages)")
    return path


def start_private_redis(port: int, *options: str) -> subprocess.Popen:
    """A redis-server of the test's own on ``port`` (stop it with ``terminate``); ``options``
    are redis-server's command-line settings, e.g. ``"--appendonly", "yes"``."""
    proc = subprocess.Popen([require_tool("redis-server"), "--port", str(port), "--bind",
                             "127.0.0.1", *options], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not port_open("127.0.0.1", port):
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail(f"private redis-server on port {port} did not start")
        time.sleep(0.05)
    return proc


def _wait_for(host: str, port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if port_open(host, port):
            return True
        time.sleep(0.2)
    return False


@pytest.fixture(scope="session")
def rabbitmq_url() -> str:
    if not port_open("127.0.0.1", 5672):
        # The machine starts it before the session; bring it back if it has stopped.
        subprocess.run(["rabbitmq-server", "-detached"], check=False, capture_output=True)
        subprocess.run(["rabbitmqctl", "await_startup", "--timeout", "60"], check=False,
                       capture_output=True)
    if not _wait_for("127.0.0.1", 5672, 30):
        pytest.fail("RabbitMQ is not reachable on 127.0.0.1:5672 (start: rabbitmq-server -detached)")
    return RABBITMQ_URL


@pytest.fixture(scope="session")
def redis_addr() -> str:
    host, port = REDIS_ADDR.rsplit(":", 1)
    if not port_open(host, int(port)):
        subprocess.run(["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port",
                        port, "--save", ""], check=False, capture_output=True)
    if not _wait_for(host, int(port), 10):
        pytest.fail(f"Redis is not reachable on {REDIS_ADDR} (start: redis-server --daemonize yes)")
    return REDIS_ADDR



@pytest.fixture(scope="session")
def docker_engine():
    """The tests' own Docker engine (tests/docker_engine.py), one per session for every folder;
    it stops when the session ends."""
    from tests.docker_engine import start_engine  # it imports this module: not at the top

    engine = start_engine()
    yield engine
    engine.stop()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The machine's PostgreSQL (trust auth, database ``test``)."""
    if not _wait_for("127.0.0.1", 5432, 10):
        pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 (database `test`)")
    return POSTGRES_URL


@contextmanager
def postgres_schema(url: str) -> Iterator[str]:
    """A schema of its own in the shared database, dropped afterwards: the URL given makes it
    the search path, so parallel runs never see each other's tables."""
    import sqlalchemy as sa

    name = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as connection:
        connection.execute(sa.text(f"CREATE SCHEMA {name}"))
    try:
        yield f"{url}?options=-csearch_path%3D{name}"
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(f"DROP SCHEMA {name} CASCADE"))
        engine.dispose()


@pytest.fixture
def skopeo(tmp_path):
    """Run skopeo with an isolated HOME (own blob-info cache) and no TLS; returns stdout."""
    return skopeo_runner(tmp_path / "home")


def skopeo_runner(home: Path):
    """``run(*args, check=True)``: skopeo with ``home`` as its HOME (for module fixtures)."""
    exe = require_tool("skopeo")
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HOME": str(home), "XDG_DATA_HOME": str(home / ".local/share"),
           "XDG_CONFIG_HOME": str(home / ".config"), "XDG_RUNTIME_DIR": str(home / "run")}

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [exe, "--insecure-policy", *args]
        result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stderr}"
            )
        return result

    return run
