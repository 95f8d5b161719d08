"""`make run` as a newcomer runs it: the sample config's registry and the example webhook
receiver beside it, so the first push shows `notification sent` in the log and the event at the
receiver; Ctrl-C stops both.

The ports are free ones instead of :5000, :5001 and :5003 (the machine is shared): the registry's
through the environment overrides every config key has, the receiver's through WEBHOOK_PORT and
a copy of config/registry.yml differing only in that port. The venv is the one running the
tests, taken as installed (`-o`): reinstalling it under a running test would help nobody.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml

from tests.conftest import free_port, require_tool
from tests.e2e.oci import OCI_MANIFEST, write_image
from tests.e2e.procs import REPO_ROOT
from tests.integration.notifications.support import wait_until

pytestmark = pytest.mark.e2e

SAMPLE = REPO_ROOT / "config" / "registry.yml"


def default_receiver_port() -> str:
    match = re.search(r"^WEBHOOK_PORT \?= (\d+)$", (REPO_ROOT / "Makefile").read_text(), re.M)
    assert match, "the Makefile sets WEBHOOK_PORT"
    return match.group(1)


def test_the_sample_config_notifies_the_receiver_make_run_starts():
    (endpoint,) = yaml.safe_load(SAMPLE.read_text())["notifications"]["endpoints"]
    assert endpoint["url"] == f"http://127.0.0.1:{default_receiver_port()}/events"
    assert not endpoint.get("disabled")


def gone(pgid: int) -> bool:
    """No process of the group is left (make, the shell, the registry's, the receiver)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def test_make_run_shows_the_first_push_arriving_as_a_webhook_and_ctrl_c_stops_everything(
        tmp_path, skopeo):
    make = require_tool("make")
    port, api, debug, console = free_port(), free_port(), free_port(), free_port()
    sample = SAMPLE.read_text()
    default_url = f"url: http://127.0.0.1:{default_receiver_port()}/events"
    assert sample.count(default_url) == 1
    config = tmp_path / "registry.yml"
    config.write_text(sample.replace(default_url, f"url: http://127.0.0.1:{port}/events"))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("REGISTRY_", "MAKE", "MFLAGS")) and k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(REGISTRY_HTTP_ADDR=f"127.0.0.1:{api}", REGISTRY_HTTP_DEBUG_ADDR=f"127.0.0.1:{debug}",
               REGISTRY_CONSOLE_ADDR=f"127.0.0.1:{console}",
               REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=str(tmp_path / "storage"))
    venv = Path(sys.executable).parent.parent
    log_path = tmp_path / "make-run.log"
    with open(log_path, "wb") as log:
        # A session of its own: its process group is what a terminal's Ctrl-C signals.
        run = subprocess.Popen(
            [make, "run", f"VENV={venv}", f"CONFIG={config}", f"WEBHOOK_PORT={port}",
             "-o", f"{venv}/bin/registry"],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)

    def output() -> str:
        return log_path.read_text(errors="replace")

    def answers(url: str) -> bool:
        if run.poll() is not None:
            raise AssertionError(f"make run exited ({run.returncode}):\n{output()[-3000:]}")
        try:
            return requests.get(url, timeout=2).status_code == 200
        except requests.RequestException:
            return False

    try:
        wait_until(lambda: answers(f"http://127.0.0.1:{api}/v2/"), 60, "the registry", 0.2)
        wait_until(lambda: answers(f"http://127.0.0.1:{port}/events"), 10, "the receiver", 0.2)
        wait_until(lambda: answers(f"http://127.0.0.1:{console}/health"), 30, "the console", 0.2)
        layout = tmp_path / "image"
        pushed = write_image(layout, "latest", [2048])
        skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:latest",
               f"docker://127.0.0.1:{api}/demo/hello:latest")

        def manifest_push() -> dict | None:
            received = requests.get(f"http://127.0.0.1:{port}/events", timeout=5).json()
            return next((e for e in received if e["action"] == "push"
                         and e["target"].get("mediaType") == OCI_MANIFEST), None)

        event = wait_until(manifest_push, 30, "the manifest push at the receiver", 0.2)
        assert event["target"]["repository"] == "demo/hello"
        assert event["target"]["digest"] == pushed.manifest_digest
        wait_until(lambda: output().count(
            "notification sent endpoint=make-run-receiver repository=demo/hello action=push") >= 3,
            10, "the registry's `notification sent` lines (layer, config, manifest)", 0.2)
        # The receiver printed the event's summary line and its body.
        summary = f"event id={event['id']} action=push repository=demo/hello tag=latest"
        text = output()
        assert summary in text, text[-3000:]
        body = text[text.index(summary) + len(summary):]
        assert body.lstrip().startswith("{") and f'"digest": "{pushed.manifest_digest}"' in body

        os.killpg(run.pid, signal.SIGINT)  # Ctrl-C
        run.wait(30)
        wait_until(lambda: gone(run.pid), 15, "every process of make run to exit", 0.2)
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/events", timeout=2)
        # A clean stop: gunicorn's workers (forks of serve) must not try to stop serve's children.
        assert "Traceback" not in output(), output()[-3000:]
    finally:
        if not gone(run.pid):
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(10)
