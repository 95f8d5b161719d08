"""The user's guide's Node.js (Express) and Go receivers, as written there (sources in
``receivers/``, with the few changes their headers list), read the default body of a real
``registry serve`` (embedded broker) push.

A recording receiver on a second endpoint keeps the exact bodies sent, so the test can say what
each guide receiver should have made of them. Missing node, npm or go fails the test.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import require_tool
from tests.integration.notifications.support import (
    MANIFEST_MEDIA_TYPE,
    clean_env,
    endpoint,
    free_port,
    port_open,
    push_image,
    start_serve,
    wait_until,
)

pytestmark = pytest.mark.integration

RECEIVERS = Path(__file__).resolve().parent / "receivers"


@pytest.fixture(scope="module")
def express_app(tmp_path_factory) -> Path:
    """The Express receiver in a folder of its own, its dependencies from the checked-in lock
    (``npm ci``, the npm cache in that folder too: nothing lands in the repository)."""
    require_tool("node")
    npm = require_tool("npm")
    app = tmp_path_factory.mktemp("express-receiver")
    for name in ("package.json", "package-lock.json", "server.js"):
        shutil.copy(RECEIVERS / "express" / name, app / name)
    done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--cache", str(app / ".npm")],
                          cwd=app, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"npm ci failed:\n{done.stdout}\n{done.stderr}"
    return app


@pytest.fixture(scope="module")
def go_receiver_binary(tmp_path_factory) -> Path:
    """The Go receiver, built once (GOPATH mode: it needs the standard library only)."""
    go = require_tool("go")
    work = tmp_path_factory.mktemp("go-receiver")
    shutil.copy(RECEIVERS / "go" / "main.go", work / "main.go")
    env = dict(os.environ, GO111MODULE="off", GOCACHE=str(work / "cache"),
               GOPATH=str(work / "gopath"), CGO_ENABLED="0")
    binary = work / "receiver"
    done = subprocess.run([go, "build", "-o", str(binary), "main.go"], cwd=work, env=env,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"go build failed:\n{done.stdout}\n{done.stderr}"
    return binary


def _start(args: list[str], cwd: Path, env: dict[str, str], log: Path, port: int,
           what: str) -> subprocess.Popen:
    with open(log, "ab") as out:
        proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited: {log.read_text(errors='replace')[-2000:]}")
        return port_open("127.0.0.1", port)

    wait_until(up, 15, what, interval=0.05)
    return proc


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def _push_through(deployments, receivers, name: str, url: str):
    """``registry serve`` (embedded broker) with the guide receiver's endpoint in the default
    format and a recording witness; one image pushed. Returns (serve, base URL, manifest digest,
    the witnessed push events)."""
    witness = receivers()
    d = deployments(None, [endpoint(name, url), endpoint(f"{name}-witness", witness.url)])
    serve, base = start_serve(d)
    try:
        manifest, blobs = push_image(base, "guide/app", "latest")
        wait_until(lambda: len(witness.snapshot()) >= 3, 20, "the push's three events")
        for sent in (f"notification sent endpoint={name} ",
                     f"notification sent endpoint={name}-witness "):
            wait_until(lambda s=sent: serve.log().count(s) >= 3, 20, f"three {sent!r} lines")
    except BaseException:
        serve.stop()
        raise
    records = witness.snapshot()
    assert all(r.header("Content-Type") == "application/json" for r in records)
    events = [r.json for r in records]
    assert sorted(e["target"]["digest"] for e in events) == sorted([manifest, *blobs])
    return serve, base, manifest, events


def test_the_guides_express_receiver_computes_the_image_ref_of_each_push(
        express_app, deployments, receivers, uid, tmp_path):
    port, scanned = free_port(), tmp_path / "scanned"
    receiver = _start(["node", "server.js"], express_app,
                      clean_env(PORT=str(port), OUT=str(scanned)), tmp_path / "express.log",
                      port, "the Express receiver")
    name = f"express-{uid}"
    try:
        serve, base, manifest, events = _push_through(
            deployments, receivers, name, f"http://127.0.0.1:{port}/registry-events")
        try:
            wait_until(lambda: scanned.exists() and len(scanned.read_text().splitlines()) >= 3,
                       10, "the receiver's three scan commands")
            log = serve.log()
        finally:
            serve.stop()
    finally:
        _stop(receiver)

    # The 200 answers: "notification sent" for each, not a single failed attempt.
    assert log.count(f"notification sent endpoint={name} ") == 3
    assert f"notification failed endpoint={name} " not in log
    refs = scanned.read_text().splitlines()
    # imageRef = <request.host>/<target.repository>@<target.digest>, for every push event.
    host = urlsplit(base).netloc
    assert f"{host}/guide/app@{manifest}" in refs
    assert sorted(refs) == sorted(f"{e['request']['host']}/{e['target']['repository']}@"
                                  f"{e['target']['digest']}" for e in events)
    assert "Scan failed" not in (tmp_path / "express.log").read_text()


def test_the_guides_go_receiver_writes_the_audit_line_of_the_manifest_push(
        go_receiver_binary, deployments, receivers, uid, tmp_path):
    port, audit_log = free_port(), tmp_path / "go-receiver.log"
    receiver = _start([str(go_receiver_binary)], tmp_path, clean_env(PORT=str(port)), audit_log,
                      port, "the Go receiver")
    name = f"go-{uid}"
    try:
        serve, _base, manifest, events = _push_through(
            deployments, receivers, name, f"http://127.0.0.1:{port}/registry-events")
        log = serve.log()
        serve.stop()
    finally:
        _stop(receiver)

    assert log.count(f"notification sent endpoint={name} ") == 3  # three 200 answers
    assert f"notification failed endpoint={name} " not in log
    pushed = next(e for e in events if e["target"]["digest"] == manifest)
    assert pushed["target"]["mediaType"] == MANIFEST_MEDIA_TYPE
    assert pushed["target"]["tag"] == "latest"
    assert re.fullmatch(r"127\.0\.0\.1:\d+", pushed["request"]["addr"])
    # log.Printf's prefix (date and time) then the guide's format.
    audit = [line.split(" ", 2)[2] for line in audit_log.read_text().splitlines()
             if "[AUDIT]" in line]
    expected = (f"[AUDIT] {pushed['timestamp']}: push guide/app:latest "
                f"from {pushed['request']['addr']}")
    assert expected in audit, audit
    assert sorted(audit) == sorted(
        f"[AUDIT] {e['timestamp']}: {e['action']} {e['target']['repository']}:"
        f"{e['target'].get('tag') or ''} from {e['request']['addr']}" for e in events)
