"""Finding the validators the deploy tests run (promtool, docker-compose, Helm's SDK).

On a developer's machine a missing tool skips the test that needs it, saying which package to
install. With CI=true it fails instead: CI installs them all, so a missing one is a broken setup,
not a pass.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"  # laid beside the clone, here and in CI


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(what: str, how: str) -> None:
    message = f"{what} is not available ({how})"
    if in_ci():
        pytest.fail(message + "; CI must have it", pytrace=False)
    pytest.skip(message)


def tool(name: str, package: str) -> str:
    """Absolute path of an executable, or skip/fail."""
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
