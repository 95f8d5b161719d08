"""Real registry processes for end-to-end tests: this registry and the reference.

A :class:`RegistryProcess` writes a config file in the reference's YAML format, starts the
server as a subprocess in its own session (so the gunicorn master and its workers stop together),
waits for ``GET /v2/`` to answer, and keeps the server's output in a log file that the test
fixtures print when a test fails.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
import yaml

from tests.conftest import free_port  # noqa: F401 - re-exported for the e2e suite

REPO_ROOT = Path(__file__).resolve().parents[2]
BLOBS_TREE = Path("docker/registry/v2/blobs")
REPOSITORIES_TREE = Path("docker/registry/v2/repositories")


def registry_command() -> list[str]:
    """This registry's console script (next to the running interpreter), as `make` installs it."""
    script = Path(sys.executable).parent / "registry"
    if script.exists():
        return [str(script)]
    found = shutil.which("registry")
    if found:
        return [found]
    return [sys.executable, "-c", "from services.cli import main; raise SystemExit(main())"]


def reference_command() -> list[str] | None:
    found = shutil.which("docker-registry")
    return [found] if found else None


class PortTaken(RuntimeError):
    """The free port was taken by someone else between choosing it and binding it."""


@dataclass
class RegistryProcess:
    """One server process on a free port over a filesystem storage root."""

    kind: str  # "ours" | "reference"
    root: Path
    workdir: Path
    delete_enabled: bool = True
    htpasswd: Path | None = None
    extra_config: dict = field(default_factory=dict)
    port: int = 0
    proc: subprocess.Popen | None = None
    log_path: Path | None = None
    config_path: Path | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def config(self) -> dict:
        cfg: dict = {
            "version": 0.1,
            "log": {"level": "info", "accesslog": {"disabled": False}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.root)},
                "delete": {"enabled": self.delete_enabled},
                "cache": {"blobdescriptor": "inmemory"},
            },
            "http": {"addr": self.host},
        }
        if self.htpasswd is not None:
            cfg["auth"] = {"htpasswd": {"realm": "e2e-realm", "path": str(self.htpasswd)}}
        for section, values in self.extra_config.items():
            cfg.setdefault(section, {}).update(values)
        return cfg

    def start(self, timeout: float = 30.0, attempts: int = 3) -> RegistryProcess:
        if self.proc is not None:
            raise RuntimeError("already running")
        for attempt in range(attempts):
            try:
                return self._start_once(timeout)
            except PortTaken:
                if attempt == attempts - 1:
                    raise
        return self

    def _start_once(self, timeout: float) -> RegistryProcess:
        self.port = free_port()
        self.root.mkdir(parents=True, exist_ok=True)
        self.workdir.mkdir(parents=True, exist_ok=True)
        config_path = self.config_path = self.workdir / f"{self.kind}-{self.port}.yml"
        config_path.write_text(yaml.safe_dump(self.config(), sort_keys=False))
        if self.kind == "ours":
            cmd = [*registry_command(), "serve", str(config_path)]
        else:
            ref = reference_command()
            if ref is None:
                raise FileNotFoundError("docker-registry")
            cmd = [*ref, "serve", str(config_path)]
        self.log_path = self.workdir / f"{self.kind}-{self.port}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                cmd,
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        # With auth configured (htpasswd here, or token auth in extra_config) /v2/ is a 401.
        ready_codes = {200, 401} if self.htpasswd or "auth" in self.extra_config else {200}
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                log = self.log_text().lower()
                if "address already in use" in log or "connection in use" in log:
                    raise PortTaken(self.log_text())
                raise RuntimeError(
                    f"{self.kind} registry exited early:\n{self.log_text()}"
                )
            try:
                r = requests.get(f"{self.url}/v2/", timeout=2)
                if r.status_code in ready_codes:
                    return
                last = f"HTTP {r.status_code}"
            except requests.RequestException as exc:
                last = type(exc).__name__
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.kind} registry not ready after {timeout}s ({last}):\n"
                           f"{self.log_text()}")

    def stop(self) -> None:
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)

    def log_text(self) -> str:
        if self.log_path and self.log_path.exists():
            return self.log_path.read_text(errors="replace")
        return ""

    # ------------------------------------------------------------ storage observations

    def blob_files(self) -> set[str]:
        """Every file under the blobs tree, as paths relative to the storage root."""
        base = self.root / BLOBS_TREE
        if not base.exists():
            return set()
        return {str(p.relative_to(self.root)) for p in base.rglob("*") if p.is_file()}

    def repository_files(self, name: str) -> set[str]:
        """Every file of one repository except upload state (which a failure may leave)."""
        base = self.root / REPOSITORIES_TREE / name
        if not base.exists():
            return set()
        return {
            str(p.relative_to(base))
            for p in base.rglob("*")
            if p.is_file() and "_uploads" not in p.relative_to(base).parts
        }
