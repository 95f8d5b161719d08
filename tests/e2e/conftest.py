"""Fixtures for the end-to-end suite: real registry processes and real client tools.

- ``registry`` / ``reference``: a fresh server (this registry / distribution's docker-registry)
  on a free port over a temporary storage root, ready when ``GET /v2/`` answers.
- ``start_registry``: a factory for tests that need several servers, other settings, or to serve
  one root with one server after the other.
- A server's log is printed when the test using it fails.
- A missing tool (skopeo, umoci, docker-registry) or client library (helm_python, oras) fails
  the test, never skips it.
- ``E2E_REGISTRY=reference`` replaces this registry by the reference everywhere, to check the
  tests themselves against distribution (the referrers API and a few 1.1 details then fail).
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest

from tests.conftest import require_tool
from tests.e2e.procs import RegistryProcess, reference_command

pytestmark = pytest.mark.e2e


def require_module(name: str):
    """Import a client library of the ``test`` extra; a missing one fails, like a missing tool."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        pytest.fail(f"{name} is not importable ({exc}): pip install -e '.[test]'", pytrace=False)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def _failed(request) -> bool:
    node = request.node
    return any(
        getattr(node, f"rep_{when}", None) is not None and getattr(node, f"rep_{when}").failed
        for when in ("setup", "call")
    )


@pytest.fixture
def start_registry(request, tmp_path):
    """Factory: ``start_registry(kind="ours"|"reference", root=None, **settings)``."""
    started: list[RegistryProcess] = []

    def start(kind: str = "ours", root: Path | None = None, **settings) -> RegistryProcess:
        if kind == "ours":
            kind = _under_test_kind()
        if kind == "reference" and reference_command() is None:
            require_tool("docker-registry")
        n = len(started)
        proc = RegistryProcess(
            kind=kind,
            root=root or tmp_path / f"storage-{n}",
            workdir=tmp_path / "procs",
            **settings,
        )
        started.append(proc)
        return proc.start()

    yield start
    for proc in started:
        proc.stop()
    if _failed(request):
        for proc in started:
            print(f"\n===== {proc.kind} registry log ({proc.log_path}) =====\n{proc.log_text()}")


def _under_test_kind() -> str:
    return os.environ.get("E2E_REGISTRY", "ours")


@pytest.fixture
def registry(start_registry) -> RegistryProcess:
    return start_registry("ours")


@pytest.fixture
def reference(start_registry) -> RegistryProcess:
    return start_registry("reference")


@pytest.fixture(scope="module")
def module_registry(request, tmp_path_factory):
    """One server for a module's many small HTTP tests (each test uses its own repository)."""
    tmp = tmp_path_factory.mktemp("module-registry")
    if _under_test_kind() == "reference" and reference_command() is None:
        require_tool("docker-registry")
    proc = RegistryProcess(kind=_under_test_kind(), root=tmp / "storage", workdir=tmp)
    proc.start()
    yield proc
    proc.stop()
    if request.session.testsfailed:
        print(f"\n===== {proc.kind} registry log ({proc.log_path}) =====\n{proc.log_text()}")


@pytest.fixture
def umoci():
    return require_tool("umoci")
