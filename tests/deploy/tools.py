"""Finding the validators the deploy tests run (promtool, docker-compose, Helm's SDK).

A missing tool fails the test that needs it, saying what to install (`make system-deps`
installs the Debian ones), in CI (CI=true) and everywhere else: a skipped validator would let an
invalid chart or compose file look green.
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"  # laid beside the clone, here and in CI


def missing(what: str, how: str) -> None:
    pytest.fail(f"{what} is not available ({how})", pytrace=False)


def tool(name: str, package: str) -> str:
    """Absolute path of an executable; fails the test when it is missing."""
    path = shutil.which(name)
    if path is None:
        missing(name, f"install the Debian package {package}")
    return path


def module(name: str, package: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError:
        missing(name, f"pip install {package}")
        raise  # unreachable: missing() raises


def shared_file(relative: str) -> Path:
    path = SHARED / relative
    if not path.exists():
        missing(str(path), "the shared/ folder is laid beside the repository")
    return path


def run(args: list[str], cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run a validator; the assertion message carries its output."""
    return subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
