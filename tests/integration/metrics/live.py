"""Real ``registry serve`` / ``registry notifier`` processes, a webhook receiver, and scrapes of
their ``/metrics``, for the metrics and health tests."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import free_port

REPO_ROOT = Path(__file__).resolve().parents[3]
REGISTRY = Path(sys.executable).parent / "registry"


def serve_config(root: Path, **sections: Any) -> dict[str, Any]:
    """A ``registry serve`` config on free ports with Prometheus on; ``sections`` are merged
    into the top level (``http`` into ``http``)."""
    http = {"addr": f"127.0.0.1:{free_port()}", "workers": 1, "threads": 4,
            "debug": {"addr": f"127.0.0.1:{free_port()}", "prometheus": {"enabled": True}}}
    http.update(sections.pop("http", {}))
    return {"version": 0.1,
            "storage": {"filesystem": {"rootdirectory": str(root)}, "delete": {"enabled": True}},
            "http": http, "log": {"accesslog": {"disabled": True}, "level": "info"},
            **sections}


class Process:
    """``registry <command> CONFIG`` in its own session, logging to a file."""

    def __init__(self, command: str, config: dict[str, Any], workdir: Path, name: str,
                 env: dict[str, str] | None = None):
        self.command = command
        self.config = config
        self.config_path = workdir / f"{name}.yml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.log_path = workdir / f"{name}.log"
        self.extra_env = env or {}
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{self.config['http']['addr']}"

    @property
    def debug_url(self) -> str:
        return f"http://{self.config['http']['debug']['addr']}"

    def start(self, ready_path: str = "/debug/health", timeout: float = 30) -> Process:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("REGISTRY_") and k != "PROMETHEUS_MULTIPROC_DIR"}
        env.update(self.extra_env)
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen([str(REGISTRY), self.command, str(self.config_path)],
                                     cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        urls = [self.debug_url + ready_path]
        if self.command == "serve":
            urls.append(self.url + "/v2/")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                if all(requests.get(u, timeout=2).status_code == 200 for u in urls):
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"registry {self.command} did not start:\n{self.log_text()[-3000:]}")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def scrape(self) -> str:
        r = requests.get(self.debug_url + "/metrics", timeout=10)
        assert r.status_code == 200, r.text
        return r.text

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)


@contextmanager
def running(*processes: Process) -> Iterator[tuple[Process, ...]]:
    try:
        for p in processes:
            p.start()
        yield processes
    finally:
        for p in reversed(processes):
            p.stop()


def samples(text: str, name: str, **labels: str) -> list[float]:
    """The values of the samples called ``name`` whose labels include ``labels``."""
    return [sample.value for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())]


def value(text: str, name: str, **labels: str) -> float:
    """The sum of the samples called ``name`` whose labels include ``labels``."""
    return sum(samples(text, name, **labels))


# ---------------------------------------------------------------- webhook receiver


class Receiver:
    """Answers each POST with the status its path asks for: ``/status/500`` -> 500."""

    def __init__(self) -> None:
        self.posts: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                owner.posts.append(self.path)
                code = int(self.path.rsplit("/", 1)[-1])
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------- registry traffic


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def push_blob(url: str, repo: str, data: bytes) -> str:
    """A monolithic upload (POST ?digest=); the digest."""
    digest = sha256(data)
    r = requests.post(f"{url}/v2/{repo}/blobs/uploads/", params={"digest": digest}, data=data,
                      timeout=30)
    assert r.status_code == 201, r.text
    return digest


def push_image(url: str, repo: str, tag: str, layer: bytes) -> str:
    """A config blob, a layer and a manifest; the manifest's digest."""
    import json

    config = json.dumps({"architecture": "amd64", "os": "linux", "tag": tag}).encode()
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": push_blob(url, repo, config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": push_blob(url, repo, layer), "size": len(layer)}],
    }).encode()
    r = requests.put(f"{url}/v2/{repo}/manifests/{tag}", data=manifest, timeout=30,
                     headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    assert r.status_code == 201, r.text
    return sha256(manifest)
