"""Real ``registry serve`` processes for tests that need more than one process or a crash."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests
import yaml

from tests.conftest import free_port

REPO_ROOT = Path(__file__).resolve().parents[3]


class ServeProcess:
    def __init__(self, root: Path, workdir: Path, name: str, storage: dict | None = None,
                 **http: object):
        self.port = free_port()
        self.debug_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "version": 0.1,
            "storage": {"filesystem": {"rootdirectory": str(root)}, "delete": {"enabled": True},
                        **(storage or {})},
            "http": {"addr": f"127.0.0.1:{self.port}", "workers": 1, "threads": 4,
                     "debug": {"addr": f"127.0.0.1:{self.debug_port}",
                               "prometheus": {"enabled": True}}, **http},
            "log": {"accesslog": {"disabled": True}},
        }
        self.config_path = workdir / f"{name}.yml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.log_path = workdir / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> ServeProcess:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("REGISTRY_") and k != "PROMETHEUS_MULTIPROC_DIR"}
        # A process a test kills (SIGKILL) cannot remove its metrics folder: it goes with the
        # test's own temporary folder, not into the machine's.
        env["TMPDIR"] = str(self.log_path.parent)
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "serve", str(self.config_path)],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/v2/", timeout=5).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"registry did not start: {self.log_path.read_text()[-2000:]}")

    def kill(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
