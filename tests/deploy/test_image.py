"""The image built from the Dockerfile, and run: the tests' own Docker engine
(tests/docker_engine.py) builds it over a locally made ``python:3.11-slim`` (no Docker Hub here),
then runs every command of it with ``--network host`` against the machine's RabbitMQ, a webhook
receiver on the host and skopeo. A few checks of the Dockerfile itself come first: they need no
engine and say exactly which instruction is wrong."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import free_port
from tests.deploy.dockerfile import build_stage_name, copy_sources, final_stage
from tests.deploy.tools import REPO
from tests.e2e.oci import OCI_MANIFEST, write_image
from tests.integration.notifications.support import Deployment, Receiver, endpoint, wait_until

IMAGE = "durable-registry:test"
CONFIG = "/etc/registry/config.yml"  # the image's config path, where the tests mount theirs
# The image's own storage: its VOLUME, owned by the user the image runs as.
IMAGE_STORAGE = {"filesystem": {"rootdirectory": "/var/lib/registry"},
                 "delete": {"enabled": True}, "cache": {"blobdescriptor": "inmemory"}}


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


def test_everything_copied_exists_and_is_in_the_build_context():
    ignore = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()]
    ignore = [line for line in ignore if line and not line.startswith("#")]
    assert ignore[0] == "*"  # an allow-list: nothing enters the context unless named below
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for source in copy_sources():
        assert (REPO / source).exists(), source
        path = source.rstrip("/").removeprefix("./")
        assert any(path == a or path.startswith(a + "/") for a in allowed), f"{source} is ignored"


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


# ---------------------------------------------------------------- the image, built and run


@pytest.fixture(scope="module")
def image(docker_engine) -> str:
    """The image built from the Dockerfile as users build it (the legacy builder, pip reaching the
    index through the host's network). The build stage is tagged too, so that pruning the
    previous builds keeps its layers: with the cache warm an unchanged tree builds in seconds."""
    docker_engine.ensure_base_image()
    started = time.monotonic()
    docker_engine.run("build", "--network", "host", "--target", build_stage_name(),
                      "-t", f"{IMAGE}-build", str(REPO), timeout=900)
    docker_engine.run("build", "--network", "host", "-t", IMAGE, str(REPO), timeout=900)
    docker_engine.run("image", "prune", "-f")  # earlier builds of the same tags
    print(f"image built in {time.monotonic() - started:.1f}s")
    return IMAGE


class ContainerExited(AssertionError):
    pass


def running(docker_engine, cid: str) -> None:
    """A container expected to run: one that exited fails the test at once, with its log."""
    if docker_engine.run("inspect", "-f", "{{.State.Running}}", cid).stdout.strip() != "true":
        raise ContainerExited(f"the container exited:\n{docker_engine.logs(cid)[-3000:]}")


def answering(docker_engine, cid: str, url: str, timeout: float = 30) -> requests.Response:
    """The 200 the container serves at ``url``."""
    def get() -> requests.Response | None:
        running(docker_engine, cid)
        try:
            r = requests.get(url, timeout=2)
        except requests.RequestException:
            return None
        return r if r.status_code == 200 else None

    return wait_until(get, timeout, f"200 from {url}", interval=0.2)


def addr(deployment: Deployment, key: str = "addr") -> str:
    http = yaml.safe_load(deployment.config_path.read_text())["http"]
    return (http if key == "addr" else http["debug"])["addr"]


def mounted(deployment: Deployment) -> list[str]:
    """The deployment's config file in place of the image's own."""
    return ["-v", f"{deployment.config_path}:{CONFIG}:ro"]


def logged(docker_engine, cid: str, text: str, count: int = 1, timeout: float = 30) -> None:
    def seen() -> bool:
        running(docker_engine, cid)
        return docker_engine.logs(cid).count(text) >= count

    try:
        wait_until(seen, timeout, f"{count} x {text!r} in the container's log", interval=0.3)
    except ContainerExited:
        raise
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the log:\n{docker_engine.logs(cid)[-3000:]}") from None


def push(skopeo, tmp_path: Path, host: str, repository: str):
    layout = tmp_path / f"layout-{uuid.uuid4().hex[:6]}"
    pushed = write_image(layout, "v1", [4096])
    skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:v1",
           f"docker://{host}/{repository}:v1")
    return pushed


def manifest_push(receiver: Receiver, repository: str) -> dict | None:
    return next((e for e in receiver.events() if e["action"] == "push"
                 and e["target"].get("mediaType") == OCI_MANIFEST
                 and e["target"]["repository"] == repository), None)


@pytest.mark.docker
def test_the_image_answers_v2_and_health_and_runs_as_uid_10001(docker_engine, image):
    api, debug = free_port(), free_port()
    with docker_engine.container(
            "-e", f"REGISTRY_HTTP_ADDR=127.0.0.1:{api}",
            "-e", f"REGISTRY_HTTP_DEBUG_ADDR=127.0.0.1:{debug}",
            # The image's HEALTHCHECK, run by Docker every second instead of every 30 s.
            "-e", f"REGISTRY_HEALTHCHECK_URL=http://127.0.0.1:{debug}/debug/health",
            "--health-interval", "1s", "--health-start-period", "1s", image) as cid:
        v2 = answering(docker_engine, cid, f"http://127.0.0.1:{api}/v2/")
        assert v2.headers["Docker-Distribution-API-Version"] == "registry/2.0"
        health = answering(docker_engine, cid, f"http://127.0.0.1:{debug}/debug/health")
        assert health.json() == {"status": "ok"}
        wait_until(lambda: docker_engine.run(
            "inspect", "-f", "{{.State.Health.Status}}", cid).stdout.strip() == "healthy",
            30, "Docker to call the container healthy", interval=0.5)
        assert docker_engine.run("inspect", "-f", "{{.Config.User}}", cid).stdout.strip() \
            == "10001:10001"
        top = docker_engine.run("top", cid, "-eo", "pid,uid,args").stdout.splitlines()[1:]
        assert top and all(line.split()[1] == "10001" for line in top), top
        assert any("/opt/py/bin/registry serve " in line for line in top), top


@pytest.mark.docker
def test_the_image_delivers_a_push_event_to_the_host_and_collects_the_garbage_after_a_delete(
        docker_engine, image, tmp_path, skopeo):
    """The default command on the embedded broker, with an endpoint on the host; then
    `garbage-collect` in a container of its own over the registry's volume."""
    receiver = Receiver()
    deployment = Deployment(tmp_path / "d", None, [endpoint("host", receiver.url)],
                            extra={"storage": IMAGE_STORAGE})
    try:
        with docker_engine.container(*mounted(deployment), image) as cid:
            host = addr(deployment)
            answering(docker_engine, cid, f"http://{host}/v2/")
            pushed = push(skopeo, tmp_path, host, "img/app")
            event = wait_until(lambda: manifest_push(receiver, "img/app"), 30,
                               "the manifest push event at the host's receiver", interval=0.1)
            assert event["target"]["tag"] == "v1"
            assert event["target"]["digest"] == pushed.manifest_digest
            logged(docker_engine, cid, "notification sent endpoint=host ")
            owner = docker_engine.run("exec", cid, "stat", "-c", "%u",
                                      "/var/lib/registry/docker/registry/v2/repositories/img/app")
            assert owner.stdout.strip() == "10001"

            skopeo("delete", "--tls-verify=false", f"docker://{host}/img/app:v1")
            docker_engine.run("stop", cid)
            gc = docker_engine.run_once("--volumes-from", cid, *mounted(deployment),
                                   image, "garbage-collect", CONFIG)
            swept = {line.removeprefix("blob eligible for deletion: ")
                     for line in gc.stdout.splitlines() if line.startswith("blob eligible")}
            assert swept == {pushed.manifest_digest, *pushed.blobs}, gc.stdout
            again = docker_engine.run_once("--volumes-from", cid, *mounted(deployment),
                                      image, "garbage-collect", CONFIG, "--dry-run")
            assert "0 blobs marked, 0 blobs and 0 manifests eligible for deletion" in again.stdout
    finally:
        receiver.close()


def published(debug_addr: str) -> int:
    """How many events the registry has handed to the broker (its own metric)."""
    text = requests.get(f"http://{debug_addr}/metrics", timeout=5).text
    return int(sum(sample.value for family in text_string_to_metric_families(text)
                   for sample in family.samples
                   if sample.name == "registry_events_published_total"))


@pytest.mark.docker
def test_the_image_runs_serve_notifier_deadletter_and_queues_on_rabbitmq(
        docker_engine, image, tmp_path, skopeo, rabbitmq_url):
    """The compose/Helm shape: serve and notifier in containers of their own on the machine's
    RabbitMQ. One endpoint answers on the host, one is gone (its events are dropped at the first
    failure); `deadletter list` and `queues list`, each a container run, report them."""
    receiver = Receiver()
    uid = uuid.uuid4().hex[:8]
    hook, gone = f"img-hook-{uid}", f"img-gone-{uid}"
    deployment = Deployment(
        tmp_path / "d", rabbitmq_url,
        [endpoint(hook, receiver.url),
         endpoint(gone, f"http://127.0.0.1:{free_port()}/gone", threshold=1)],
        extra={"storage": IMAGE_STORAGE})
    notifier_debug = f"127.0.0.1:{free_port()}"
    try:
        with docker_engine.container(*mounted(deployment), "-e",
                                     f"REGISTRY_HTTP_DEBUG_ADDR={notifier_debug}",
                                     image, "notifier", CONFIG) as notifier:
            logged(docker_engine, notifier, f"consuming endpoint={hook} ")
            logged(docker_engine, notifier, f"consuming endpoint={gone} ")
            answering(docker_engine, notifier, f"http://{notifier_debug}/debug/health")
            with docker_engine.container(*mounted(deployment), image) as serve:
                host = addr(deployment)
                answering(docker_engine, serve, f"http://{host}/v2/")
                pushed = push(skopeo, tmp_path, host, "img/rabbit")
                count = published(addr(deployment, "debug"))
                assert count >= 3  # config, layer, manifest
                wait_until(lambda: len(receiver.events()) >= count, 30,
                           f"{count} events at the receiver", interval=0.1)
                assert manifest_push(receiver, "img/rabbit")["target"]["digest"] \
                    == pushed.manifest_digest
                logged(docker_engine, notifier, f"notification dropped endpoint={gone} ", count)
                # serve started no notifier of its own: with a broker URL, delivery is the
                # notifier containers' job.
                assert "notification sent" not in docker_engine.logs(serve)

            listed = docker_engine.run_once(*mounted(deployment), image,
                                       "deadletter", CONFIG, "list", "--endpoint", gone)
            parked = [json.loads(line) for line in listed.stdout.splitlines()]
            assert len(parked) == count
            assert {e["id"] for e in parked} == {e["id"] for e in receiver.events()}
            assert f"dead letters endpoint={gone} count={count}" in listed.stderr

            queues = docker_engine.run_once(*mounted(deployment), image,
                                       "queues", CONFIG, "list")
            lines = queues.stdout.splitlines()
            assert f"endpoint={hook} state=enabled queued=0 retrying=0 dead=0" in lines, lines
            assert f"endpoint={gone} state=enabled queued=0 retrying=0 dead={count}" in lines, \
                lines
    finally:
        deployment.close()
        receiver.close()
