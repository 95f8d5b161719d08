"""A Docker engine of the tests' own: one private ``dockerd`` per test session (the
``docker_engine`` fixture of tests/conftest.py).

It runs as root with no iptables and no bridge (containers use ``--network host``), on a socket of
its own, and trusts plain-HTTP registries on loopback (``--insecure-registry 127.0.0.0/8``), so
the docker CLI can push to a registry the tests start on 127.0.0.1.

Its data lives outside the repository at a fixed cache path (``$DOCKER_TEST_CACHE``, by default
/var/cache/durable-registry-tests), so the locally made base image and the image's build layers
survive from one run to the next. One session at a time owns that folder (a file lock); a
session started while another runs gets a throwaway engine of its own (slower: its base image is
imported again from the cached root filesystem).

There is no Docker Hub here: the Dockerfile's base, ``python:3.11-slim``, is a stand-in made from
Debian's packages (debootstrap, a venv with pip at /opt/py), once per cache.

A missing engine fails the tests under CI=true and skips them elsewhere (dockerd needs root).
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pytest

from tests.conftest import IN_CI

CACHE = Path(os.environ.get("DOCKER_TEST_CACHE", "/var/cache/durable-registry-tests"))
BASE_IMAGE = "python:3.11-slim"
BASE_ROOTFS = CACHE / "python-3.11-slim-rootfs.tar"
BASE_PATH = "/opt/py/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BASE_PACKAGES = "python3,python3-venv,ca-certificates,passwd"
START_SECONDS = 60


def unavailable(reason: str) -> None:
    """No engine: a failure in CI, a skip on a developer's machine (dockerd needs root)."""
    if IN_CI:
        pytest.fail(f"Docker engine unavailable: {reason}", pytrace=False)
    pytest.skip(f"Docker engine unavailable: {reason}")


def docker_cli() -> str | None:
    """The docker CLI of the same package as dockerd (Debian's docker.io), so client and engine
    speak the same API version; any docker on PATH otherwise."""
    dockerd = shutil.which("dockerd")
    if dockerd:
        beside = Path(dockerd).resolve().parent.parent / "bin" / "docker"
        if beside.exists():
            return str(beside)
    return shutil.which("docker")


def debian_mirror() -> str:
    """The machine's Debian mirror, as apt uses it."""
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    if sources.exists():
        for line in sources.read_text().splitlines():
            if line.startswith("URIs:"):
                return line.split()[1]
    listing = Path("/etc/apt/sources.list")
    if listing.exists():
        for line in listing.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "deb" and "security" not in parts[1]:
                return parts[1]
    return "http://deb.debian.org/debian"


def _die_with_parent() -> None:
    # A pytest killed outright must not leave its dockerd holding the cache.
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class DockerEngine:
    """A running ``dockerd`` under ``root`` (data, exec state, socket, log)."""

    root: Path
    cli: str
    throwaway: bool = False
    proc: subprocess.Popen | None = None
    lock: IO | None = None
    config_dir: Path = field(init=False)

    def __post_init__(self) -> None:
        self.config_dir = self.root / "cli-config"  # no credentials or helpers from ~/.docker

    @property
    def socket(self) -> Path:
        return self.root / "docker.sock"

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    @property
    def log_path(self) -> Path:
        return self.root / "dockerd.log"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env.update(DOCKER_HOST=self.host, DOCKER_CONFIG=str(self.config_dir), DOCKER_BUILDKIT="0")
        env.update(extra)
        return env

    def run(self, *args: str, check: bool = True, timeout: float = 120,
            input: bytes | str | None = None, **env: str) -> subprocess.CompletedProcess:
        """``docker ARGS`` against this engine; ``env`` adds variables (DOCKER_CONFIG=...)."""
        text = not isinstance(input, bytes)
        result = subprocess.run([self.cli, *args], env=self.env(**env), capture_output=True,
                                text=text, timeout=timeout, input=input)
        if check and result.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} failed ({result.returncode}):\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result

    def has_image(self, name: str) -> bool:
        return self.run("image", "inspect", name, check=False).returncode == 0

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        for sub in ("data", "exec", "cli-config"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self._stop_orphan()
        self.socket.unlink(missing_ok=True)
        command = [
            "dockerd", "--iptables=false", "--bridge=none",
            "--insecure-registry", "127.0.0.0/8",
            "--data-root", str(self.root / "data"), "--exec-root", str(self.root / "exec"),
            "--pidfile", str(self.root / "dockerd.pid"), "-H", self.host,
        ]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + START_SECONDS
        while self.run("version", check=False, timeout=10).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                log_tail = self.log_path.read_text(errors="replace")[-3000:]
                self.stop()
                unavailable(f"dockerd did not start:\n{log_tail}")
            time.sleep(0.2)
        # A session killed earlier may have left containers behind on the cached engine.
        left = self.run("ps", "-aq").stdout.split()
        if left:
            self.run("rm", "-fv", *left, check=False)

    def _stop_orphan(self) -> None:
        """The dockerd of a session that died without stopping it (its pid file names it)."""
        pidfile = self.root / "dockerd.pid"
        try:
            pid = int(pidfile.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            pidfile.unlink(missing_ok=True)
            return
        if cmdline and cmdline[0].endswith(b"dockerd") and str(self.root).encode() in b" ".join(
                cmdline):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 30
            while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                time.sleep(0.2)
        pidfile.unlink(missing_ok=True)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None
        _unmount_below(self.root)
        if self.throwaway:
            shutil.rmtree(self.root, ignore_errors=True)
        if self.lock is not None:
            self.lock.close()  # releases the flock
            self.lock = None

    # ------------------------------------------------------------ images

    def ensure_base_image(self) -> None:
        """``python:3.11-slim`` as the Dockerfile expects it, made here when missing."""
        if self.has_image(BASE_IMAGE):
            return
        with _locked(CACHE / "base.lock"):
            if not BASE_ROOTFS.exists():
                make_base_rootfs(BASE_ROOTFS)
        self.run("import", "-c", f"ENV PATH={BASE_PATH}", str(BASE_ROOTFS), BASE_IMAGE,
                 timeout=300)

    @contextmanager
    def container(self, *args: str) -> Iterator[str]:
        """``docker run -d --network host ARGS``; yields the container id, removes it after
        (with its anonymous volumes)."""
        cid = self.run("run", "-d", "--network", "host", *args).stdout.strip()
        try:
            yield cid
        finally:
            self.run("rm", "-fv", cid, check=False)

    def run_once(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """``docker run --rm --network host ARGS`` to its end (a command such as ``queues``)."""
        return self.run("run", "--rm", "--network", "host", *args, check=check)

    def logs(self, cid: str) -> str:
        result = self.run("logs", cid, check=False)
        return result.stdout + result.stderr


def _unmount_below(root: Path) -> None:
    """dockerd leaves its default network namespace mounted under the exec root when it stops:
    unmount what is left there, so the folder can be removed and the next start mounts afresh."""
    points = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for point in reversed(points):
        if point == str(root) or point.startswith(f"{root}/"):
            subprocess.run(["umount", point], capture_output=True, timeout=30)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def make_base_rootfs(tarball: Path) -> None:
    """A Debian bookworm root filesystem with Python 3.11 and a venv holding pip at /opt/py
    (Debian disables ensurepip for the system Python; a venv gets pip), as a tar for
    ``docker import``. About 1.5 minutes and 300 MB, once per cache."""
    work = Path(tempfile.mkdtemp(prefix="rootfs-", dir=tarball.parent))
    rootfs = work / "rootfs"
    try:
        steps = [
            ["debootstrap", "--variant=minbase", f"--include={BASE_PACKAGES}", "bookworm",
             str(rootfs), debian_mirror()],
            ["chroot", str(rootfs), "python3", "-m", "venv", "/opt/py"],
            ["cp", "/etc/ssl/certs/ca-certificates.crt", str(rootfs / "etc/ssl/certs/")],
            ["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(work / "rootfs.tar"), "."],
        ]
        for step in steps:
            result = subprocess.run(step, capture_output=True, text=True, timeout=900)
            if result.returncode != 0:
                raise AssertionError(f"{' '.join(step)} failed ({result.returncode}):\n"
                                     f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        os.replace(work / "rootfs.tar", tarball)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def start_engine() -> DockerEngine:
    """The cached engine when no other session holds it, else a throwaway one."""
    cli = docker_cli()
    if shutil.which("dockerd") is None or cli is None:
        unavailable("dockerd or docker is not installed (Debian package docker.io: "
                    "make system-deps)")
    if os.geteuid() != 0:
        unavailable("dockerd runs as root here, and these tests are not root")
    CACHE.mkdir(parents=True, exist_ok=True)
    lock = open(CACHE / "docker.lock", "a")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        engine = DockerEngine(CACHE / "docker", cli, lock=lock)
    except BlockingIOError:
        lock.close()
        # Short: the socket path must fit in a sockaddr_un (108 bytes).
        engine = DockerEngine(Path(tempfile.mkdtemp(prefix="drt-", dir="/var/tmp")), cli,
                              throwaway=True)
    try:
        engine.start()
    except BaseException:
        engine.stop()
        raise
    return engine

