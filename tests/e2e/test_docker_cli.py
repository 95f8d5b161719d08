"""The docker CLI as a real client, beside skopeo, helm and oras: `docker login`, `push`, `pull`
and `manifest inspect` against a `registry serve` on 127.0.0.1, with htpasswd and with token auth
(tests/e2e/tokenserver.py), and the events each causes at a real webhook receiver.

The engine is the tests' own dockerd (tests/docker_engine.py, trusting plain HTTP on loopback);
images come from `docker import` of a small tarball (no Docker Hub here). Every test's docker
has its own DOCKER_CONFIG, so logins never leak from one test to another or to the machine.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import tarfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import pytest

from tests.docker_engine import DockerEngine
from tests.e2e.tokenserver import TokenServer, parse_scope
from tests.integration.notifications.support import Receiver, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.docker]

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG_BLOB = "application/vnd.docker.container.image.v1+json"
EVENT_WAIT_SECONDS = 30
PASSWORDS = {"alice": "alice-pw", "bob": "bob-pw"}
POLICY = {"alice": [("demo/*", {"pull", "push"})], "bob": [("demo/*", {"pull"})]}


@dataclass
class DockerClient:
    """The docker CLI with a config folder of its own (where `docker login` keeps credentials)."""

    engine: DockerEngine
    config: Path

    def __call__(self, *args: str, check: bool = True, input: bytes | str | None = None
                 ) -> subprocess.CompletedProcess:
        return self.engine.run(*args, check=check, input=input, timeout=180,
                               DOCKER_CONFIG=str(self.config))

    def login(self, host: str, user: str, password: str, check: bool = True
              ) -> subprocess.CompletedProcess:
        return self("login", "--username", user, "--password-stdin", host, input=password,
                    check=check)

    def saved_logins(self) -> dict:
        path = self.config / "config.json"
        return json.loads(path.read_text()).get("auths", {}) if path.exists() else {}

    def image_id(self, ref: str) -> str:
        return self("image", "inspect", "--format", "{{.Id}}", ref).stdout.strip()


@pytest.fixture
def docker_client(docker_engine, tmp_path) -> Callable[[], DockerClient]:
    """Factory: each call gives a docker with a fresh, empty DOCKER_CONFIG."""
    made = []

    def make() -> DockerClient:
        config = tmp_path / f"docker-config-{len(made)}"
        config.mkdir()
        made.append(config)
        return DockerClient(docker_engine, config)

    return make


@pytest.fixture
def local_image(docker_engine) -> Iterator[str]:
    """A one-layer image of random bytes made by `docker import` (removed afterwards, with every
    tag it got)."""
    name = f"e2e-import-{uuid.uuid4().hex[:8]}:v1"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        data = os.urandom(64 * 1024)
        info = tarfile.TarInfo("data/random.bin")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    docker_engine.run("import", "--change", 'CMD ["/data/random.bin"]', "-", name,
                      input=buffer.getvalue())
    image_id = docker_engine.run("image", "inspect", "--format", "{{.Id}}", name).stdout.strip()
    yield name
    docker_engine.run("rmi", "-f", image_id, check=False)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def notifying(receiver: Receiver) -> dict:
    """The registry's notifications section: one endpoint, the receiver."""
    return {"notifications": {"endpoints": [{"name": "docker-cli", "url": receiver.url,
                                             "timeout": "2s", "threshold": 5, "backoff": "1s"}]}}


def events(receiver: Receiver, action: str, repository: str, media_type: str | None = None
           ) -> list[dict]:
    return [e for e in receiver.events() if e["action"] == action
            and e["target"].get("repository") == repository
            and (media_type is None or e["target"].get("mediaType") == media_type)]


def wait_events(receiver: Receiver, action: str, repository: str, media_type: str | None = None,
                count: int = 1) -> list[dict]:
    return wait_until(
        lambda: (found := events(receiver, action, repository, media_type)) and
        len(found) >= count and found,
        EVENT_WAIT_SECONDS, f"{count} {action} event(s) of {repository} ({media_type})",
        interval=0.1)


def pushed_digest(output: str) -> str:
    """`docker push` ends with `v1: digest: sha256:... size: N`."""
    match = re.search(r"digest: (sha256:[0-9a-f]{64}) size: \d+", output)
    assert match, output
    return match.group(1)


def push_and_pull_back(pusher: DockerClient, puller: DockerClient, local: str, ref: str
                       ) -> tuple[str, str]:
    """``pusher`` pushes ``local`` as ``ref``; the engine forgets it; ``puller`` pulls it back:
    (image id, manifest digest), the pulled image being the pushed one."""
    pusher("tag", local, ref)
    image_id = pusher.image_id(ref)
    digest = pushed_digest(pusher("push", ref).stdout)
    pusher("rmi", ref, local)  # every local name of it: the pull has to download it
    assert pusher("image", "inspect", ref, check=False).returncode != 0
    pulled = puller("pull", ref)
    assert f"Digest: {digest}" in pulled.stdout, pulled.stdout
    assert "Downloaded newer image" in pulled.stdout, pulled.stdout
    assert puller.image_id(ref) == image_id
    return image_id, digest


def granted_scopes(tokens: TokenServer, repository: str) -> list[tuple[str | None, set[str]]]:
    """(user, actions) of every token asked for ``repository`` (docker orders them its way)."""
    out = []
    for request in tokens.requests:
        for scope in request["scopes"]:
            parsed = parse_scope(scope)
            if parsed and parsed[1] == repository:
                out.append((request["user"], set(parsed[2])))
    return out


def assert_manifest_inspect(docker: DockerClient, ref: str, image_id: str) -> None:
    shown = json.loads(docker("manifest", "inspect", "--insecure", ref).stdout)
    assert shown["mediaType"] == DOCKER_MANIFEST
    assert shown["config"] == {"mediaType": DOCKER_CONFIG_BLOB, "size": shown["config"]["size"],
                               "digest": image_id}
    assert len(shown["layers"]) == 1


def assert_refused_push(docker: DockerClient, ref: str, why: str) -> None:
    refused = docker("push", ref, check=False)
    assert refused.returncode != 0, refused.stdout
    assert re.search(why, refused.stdout + refused.stderr, re.I), refused.stdout + refused.stderr


def assert_events(receiver: Receiver, repository: str, digest: str, image_id: str, pusher: str,
                  puller: str) -> None:
    """What one push, one pull and one `manifest inspect` leave at the receiver: the manifest
    push and the config and layer blob pushes by ``pusher``; the manifest downloads (the pull's,
    the inspect's) and the config download by ``puller``; the user agent is docker's. (The
    existence checks, HEADs, are pull events too: by whoever made them.)"""
    (push,) = wait_events(receiver, "push", repository, DOCKER_MANIFEST)
    assert push["target"]["digest"] == digest and push["target"]["tag"] == "v1"
    assert push["actor"] == {"name": pusher}
    assert push["request"]["useragent"].startswith("docker/")
    pushes = wait_events(receiver, "push", repository, count=3)  # layer, config, manifest
    assert {e["target"]["digest"] for e in pushes} >= {image_id, digest}
    assert all(e["actor"] == {"name": pusher} for e in pushes), pushes

    def downloads(of: str) -> list[dict]:
        return [e for e in events(receiver, "pull", repository)
                if e["request"]["method"] == "GET" and e["target"]["digest"] == of]

    manifests = wait_until(lambda: len(downloads(digest)) >= 2 and downloads(digest),
                           EVENT_WAIT_SECONDS, "the pull's and the inspect's manifest GETs")
    configs = wait_until(lambda: downloads(image_id), EVENT_WAIT_SECONDS, "the config's GET")
    for event in manifests + configs:
        assert event["actor"] == {"name": puller}, event
    # The pull is the engine's (docker/...), the inspect the CLI's own (Docker-Client/...).
    agents = {e["request"]["useragent"].split("/")[0] for e in manifests}
    assert agents == {"docker", "Docker-Client"}, agents


def test_docker_login_push_pull_and_manifest_inspect_with_htpasswd(
        start_registry, docker_client, local_image, receiver, tmp_path):
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text("".join(f"{user}:{bcrypt.hashpw(pw.encode(), bcrypt.gensalt(4)).decode()}\n"
                                for user, pw in PASSWORDS.items()))
    registry = start_registry(htpasswd=htpasswd, extra_config=notifying(receiver))
    docker = docker_client()
    ref = f"{registry.host}/demo/app:v1"
    docker("tag", local_image, ref)

    assert_refused_push(docker, ref, "no basic auth credentials")
    assert docker.saved_logins() == {}
    wrong = docker.login(registry.host, "alice", "not-her-password", check=False)
    assert wrong.returncode != 0 and "unauthorized" in wrong.stderr.lower(), wrong.stderr

    assert "Login Succeeded" in docker.login(registry.host, "alice", PASSWORDS["alice"]).stdout
    assert registry.host in docker.saved_logins()  # in this test's DOCKER_CONFIG only
    image_id, digest = push_and_pull_back(docker, docker, local_image, ref)
    assert_manifest_inspect(docker, ref, image_id)

    assert_events(receiver, "demo/app", digest, image_id, pusher="alice", puller="alice")
    assert len(events(receiver, "push", "demo/app", DOCKER_MANIFEST)) == 1  # none refused


def test_docker_login_push_and_pull_through_the_token_server(
        start_registry, docker_client, local_image, receiver, tmp_path):
    with TokenServer(tmp_path / "tokens", PASSWORDS, POLICY) as tokens:
        registry = start_registry(extra_config={"auth": tokens.registry_auth_config(),
                                                **notifying(receiver)})
        ref = f"{registry.host}/demo/app:v1"
        alice, bob = docker_client(), docker_client()
        alice("tag", local_image, ref)

        # Anonymous: the token server refuses a token, so the engine never gets to upload.
        assert_refused_push(alice, ref, "unauthorized")
        assert "Login Succeeded" in alice.login(registry.host, "alice", PASSWORDS["alice"]).stdout
        assert any(r["user"] == "alice" for r in tokens.requests), tokens.requests
        # bob may pull what alice pushed (the same image) and inspect it, but not push.
        assert "Login Succeeded" in bob.login(registry.host, "bob", PASSWORDS["bob"]).stdout
        image_id, digest = push_and_pull_back(alice, bob, local_image, ref)
        assert ("alice", {"pull", "push"}) in granted_scopes(tokens, "demo/app")
        assert ("bob", {"pull"}) in granted_scopes(tokens, "demo/app")
        assert_manifest_inspect(bob, ref, image_id)
        bob("tag", ref, f"{registry.host}/demo/app:bob")
        assert_refused_push(bob, f"{registry.host}/demo/app:bob", "denied: insufficient scope")

        assert_events(receiver, "demo/app", digest, image_id, pusher="alice", puller="bob")
        tags = {e["target"].get("tag") for e in events(receiver, "push", "demo/app",
                                                       DOCKER_MANIFEST)}
        assert tags == {"v1"}  # bob's refused push made none
