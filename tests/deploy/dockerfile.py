"""The Dockerfile as the tests read it: its instructions, and the build stage's context.

The plain-install test and the image tests build the wheel from exactly what the build stage
copies, so a module left outside the copied folders, or a dependency only the test extras pull
in, fails there as it would in the image.
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

from tests.deploy.tools import REPO

DOCKERFILE = REPO / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def copy_sources() -> list[str]:
    """Every path a COPY takes from the build context (not from another stage)."""
    sources = []
    for word, args in instructions():
        if word == "COPY" and "--from=" not in args:
            sources.extend(shlex.split(args)[:-1])
    return sources


def build_stage_context(dest: Path) -> Path:
    """Copy into ``dest`` what the build stage copies before its ``pip wheel .`` (the final
    stage's own files, deploy/..., are not part of the wheel)."""
    dest.mkdir(parents=True, exist_ok=True)
    for source in copy_sources():
        if source.startswith("deploy/"):
            continue
        src = REPO / source
        if src.is_dir():
            shutil.copytree(src, dest / source, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, dest / source)
    return dest


def build_stage_name() -> str:
    """The name of the first stage (``FROM ... AS build``): the one that builds the wheels."""
    first = next(args for word, args in instructions() if word == "FROM")
    words = first.split()
    return words[[w.upper() for w in words].index("AS") + 1]
