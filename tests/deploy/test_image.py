"""The Dockerfile, checked without a Docker engine: its instructions, its build context
(.dockerignore), a wheel built from exactly the files it copies, and its health check run
against a live server."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

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


def test_final_image_is_python_slim_running_the_registry_command():
    stage = dict(final_stage())
    assert stage["FROM"] == "python:3.11-slim"
    assert json.loads(stage["ENTRYPOINT"]) == ["registry"]
    assert json.loads(stage["CMD"]) == ["serve", "/etc/registry/config.yml"]
    assert "registry" in _pyproject_scripts()  # the console script the entrypoint runs


def _pyproject_scripts() -> dict:
    import tomllib

    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]


def test_runs_as_the_non_root_user_it_creates():
    stage = final_stage()
    users = [args for word, args in stage if word == "USER"]
    assert users == ["10001:10001"]  # numeric: Kubernetes' runAsNonRoot can check it
    created = " ".join(args for word, args in stage if word == "RUN")
    assert "--uid 10001" in created and "--gid 10001" in created
    # USER comes after every RUN that needs root.
    last_user = max(i for i, (w, _) in enumerate(stage) if w == "USER")
    assert all(w != "RUN" for w, _ in stage[last_user:])


def copy_sources() -> list[str]:
    sources = []
    for word, args in instructions():
        if word == "COPY" and "--from=" not in args:
            sources.extend(shlex.split(args)[:-1])
    return sources


def test_everything_copied_exists_and_is_in_the_build_context():
    ignore = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()]
    ignore = [line for line in ignore if line and not line.startswith("#")]
    assert ignore[0] == "*"  # an allow-list: nothing enters the context unless named below
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for source in copy_sources():
        assert (REPO / source).exists(), source
        path = source.rstrip("/").removeprefix("./")
        assert any(path == a or path.startswith(a + "/") for a in allowed), f"{source} is ignored"


def test_a_wheel_builds_from_exactly_what_the_build_stage_copies(tmp_path):
    # The build stage copies these into /src and runs `pip wheel .`: do the same here, so a
    # module added outside the copied folders, or a packaging mistake, fails now, not in CI's
    # image build.
    context = tmp_path / "src"
    context.mkdir()
    for source in copy_sources():
        if source.startswith("deploy/"):
            continue  # copied into the final stage, not the wheel
        src = REPO / source
        if src.is_dir():
            shutil.copytree(src, context / source, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, context / source)
    result = subprocess.run(
        # Build isolation, as in the image: pip fetches the build backend pyproject.toml names.
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
         "--wheel-dir", str(tmp_path / "wheels"), str(context)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    (wheel,) = (tmp_path / "wheels").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for module in ("services/cli.py", "shared/config/__init__.py", "services/registry/metrics.py",
                   "services/notifier/metrics.py",
                   # The history's migrations, applied at start by the notifiers.
                   "shared/history/migrations/env.py",
                   "shared/history/migrations/versions/0001_history.py"):
        assert module in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "registry = services.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def healthcheck_command() -> list[str]:
    (args,) = [args for word, args in final_stage() if word == "HEALTHCHECK"]
    command = json.loads(args[args.index("CMD") + len("CMD"):].strip())
    assert command[0] == "python"
    return [sys.executable, *command[1:]]


@pytest.fixture
def health_server():
    status = {"code": 200}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(status["code"] if self.path == "/debug/health" else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_port, status
    server.shutdown()
    server.server_close()


def test_healthcheck_passes_on_200_and_fails_on_503(health_server):
    port, status = health_server
    (args,) = [args for word, args in final_stage() if word == "HEALTHCHECK"]
    assert "http://127.0.0.1:5001/debug/health" in args  # the debug port of serve and notifier
    env = {"REGISTRY_HEALTHCHECK_URL": f"http://127.0.0.1:{port}/debug/health", "PATH": "/usr/bin:/bin"}
    assert subprocess.run(healthcheck_command(), env=env, capture_output=True, timeout=10).returncode == 0
    status["code"] = 503
    assert subprocess.run(healthcheck_command(), env=env, capture_output=True, timeout=10).returncode != 0
