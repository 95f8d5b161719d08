"""Real parts for the notification tests: webhook receivers, notifier processes, a private
RabbitMQ node, configs, and events published through the registry's own publisher."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
import yaml
from kombu import Connection

from services.registry.events import build_sink
from shared.broker import (
    dead_queue_name,
    endpoint_queue_name,
    retry_queue_name,
    retry_steps,
    topology_for,
)
from shared.broker.endpoint_record import record_names
from shared.broker.redis_transport import forget_claims
from shared.config import Config, load_config
from shared.events import BLOB_MEDIA_TYPE, Event, RequestRecord, Source, Target
from tests.conftest import free_port, port_open  # noqa: F401 - re-exported for this folder

REPO_ROOT = Path(__file__).resolve().parents[3]
REGISTRY = Path(sys.executable).parent / "registry"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"


def wait_until(predicate: Callable[[], Any], timeout: float, message: str = "condition",
               interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


# ---------------------------------------------------------------- receivers


@dataclass
class Recorded:
    at: float
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    peer: tuple[str, int] = ("", 0)  # the sender's address: one per connection

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


Responder = Callable[[Recorded, int], tuple]


class Receiver:
    """A threaded HTTP server that records every request. ``respond(request, n)`` (n counts
    from 1) gives the status and headers, and optionally a body (bytes); ``delay`` seconds pass
    before each answer."""

    def __init__(self, respond: Responder | None = None, delay: float = 0.0,
                 ssl_context: Any = None):
        self.requests: list[Recorded] = []
        self.respond = respond or (lambda _r, _n: (200, {}))
        self.delay = delay
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if len(body) < length:
                    return  # the sender died mid-request (a SIGKILL test): nothing arrived
                record = Recorded(time.time(), "POST", self.path, dict(self.headers.items()),
                                  body, tuple(self.client_address))
                with receiver.lock:
                    receiver.requests.append(record)
                    n = len(receiver.requests)
                if receiver.delay:
                    time.sleep(receiver.delay)
                status, headers, *rest = receiver.respond(record, n)
                body = rest[0] if rest else b""
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                return  # a sender killed mid-request (SIGKILL tests) is expected here

        self.server = Server(("127.0.0.1", 0), Handler)
        scheme = "http"
        if ssl_context is not None:
            self.server.socket = ssl_context.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def snapshot(self) -> list[Recorded]:
        with self.lock:
            return list(self.requests)

    def events(self) -> list[dict[str, Any]]:
        return [r.json for r in self.snapshot()]

    def ids(self) -> list[str]:
        return [r.json["id"] for r in self.snapshot()]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Recorded]:
        wait_until(lambda: len(self.requests) >= count, timeout,
                   f"{count} requests (got {len(self.requests)})")
        return self.snapshot()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------- configs and events


def endpoint(name: str, url: str, **options: Any) -> dict[str, Any]:
    """An endpoint entry with fast test timings unless overridden."""
    entry = {"name": name, "url": url, "timeout": "2s", "threshold": 3, "backoff": "50ms"}
    entry.update(options)
    return entry


@dataclass
class Deployment:
    """One config file (broker, exchange, endpoints) and the registry-side publisher for it."""

    workdir: Path
    broker_url: str | list[str] | None  # several: the nodes of a cluster
    endpoints: list[dict[str, Any]]
    exchange: str = field(default_factory=lambda: f"test.{uuid.uuid4().hex[:10]}")
    debug_port: int = field(default_factory=free_port)
    extra: dict[str, Any] = field(default_factory=dict)
    history: dict[str, Any] | None = None  # notifications.history

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.workdir / "config.yml"
        self.write()
        self._sink = None
        self._config: Config | None = None
        self._earlier: list[Config] = []  # configs before reconfigure(): their queues go at close

    def write(self) -> None:
        broker: dict[str, Any] = {"exchange": self.exchange}
        if self.broker_url:
            broker["url"] = self.broker_url
        doc = {
            "version": 0.1,
            "log": {"level": "info"},
            "storage": {"filesystem": {"rootdirectory": str(self.workdir / "root")}},
            "http": {"addr": f"127.0.0.1:{free_port()}",
                     "debug": {"addr": f"127.0.0.1:{self.debug_port}",
                               "prometheus": {"enabled": True}}},
            "notifications": {"broker": broker, "endpoints": self.endpoints},
        }
        if self.history is not None:
            doc["notifications"]["history"] = self.history
        for key, value in self.extra.items():
            doc[key] = value
        self.config_path.write_text(yaml.safe_dump(doc))

    @property
    def config(self) -> Config:
        self._config = load_config(self.config_path, environ={})
        return self._config

    def reconfigure(self, endpoints: list[dict[str, Any]]) -> None:
        """The operator edits the endpoints: a new config file, and later publishes go through a
        publisher built on it (a registry restarted on the new config)."""
        self._earlier.append(self._config or self.config)
        self.endpoints = endpoints
        self.write()
        if self._sink is not None:
            self._sink.close()
            self._sink = None

    @property
    def sink(self):
        if self._sink is None:
            self._sink = build_sink(self.config)
        return self._sink

    def publish(self, *events: Event) -> None:
        for event in events:
            self.sink.write(event)

    def metrics(self) -> str:
        return requests.get(f"http://127.0.0.1:{self.debug_port}/metrics", timeout=5).text

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([str(REGISTRY), *args[:1], str(self.config_path), *args[1:]],
                              capture_output=True, text=True, timeout=timeout, env=clean_env(),
                              cwd=REPO_ROOT)

    def close(self) -> None:
        if self._sink is not None:
            self._sink.close()
        if self.broker_url:
            # The config as last read: its secrets may come from an environment already gone.
            for config in [*self._earlier, self._config or self.config]:
                delete_topology(self.broker_url, self.exchange, config)


@dataclass
class TypedDeployment(Deployment):
    """A deployment whose config sets notifications.broker.queuetype."""

    queuetype: str = "quorum"

    def write(self) -> None:
        super().write()
        doc = yaml.safe_load(self.config_path.read_text())
        doc["notifications"]["broker"]["queuetype"] = self.queuetype
        self.config_path.write_text(yaml.safe_dump(doc))

    def switch(self, queuetype: str) -> None:
        """The operator edits queuetype; later publishes go through a publisher on the new file."""
        self.queuetype = queuetype
        self.reconfigure(self.endpoints)


def parked(d: Deployment, name: str) -> int:
    """How many events wait in an endpoint's dead-letter queue on RabbitMQ."""
    with Connection(d.broker_url) as conn:
        _, count, _ = conn.channel().queue_declare(queue=dead_queue_name(name), passive=True)
    return count


def delete_topology(url: str, exchange: str, config: Config) -> None:
    """Remove what a test declared on the shared broker."""
    try:
        with Connection(url, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=0)
            channel = conn.channel()
            names = record_names(topology_for(config))
            for ep in config.notifications.endpoints:
                names += [endpoint_queue_name(ep.name), dead_queue_name(ep.name)]
                names += [retry_queue_name(ep.name, d) for d in retry_steps(ep)]
            for name in names:
                try:
                    channel.queue_delete(name)
                except Exception:
                    channel = conn.channel()
            for suffix in ("", ".requeue", ".delay", ".dead"):
                try:
                    channel.exchange_delete(exchange + suffix)
                except Exception:
                    channel = conn.channel()
        if url.startswith("redis"):
            # kombu leaves the binding tables behind, and the queues' messages too (its
            # queue_delete only knows the bindings this process declared)
            import redis

            client = redis.Redis.from_url(url)
            if names:
                client.delete(*names)
            for name in names:  # claims a recovery pass would otherwise push back later
                forget_claims(client, name)
            forget_unacked(client, names)
            for pattern in (f"_kombu.binding*.{exchange}", f"_kombu.binding*.{exchange}.*"):
                keys = list(client.scan_iter(pattern))
                if keys:
                    client.delete(*keys)
    except Exception:
        pass  # best effort: a stopped private broker takes its queues with it


def forget_unacked(client: Any, queues: list[str]) -> None:
    """Drop kombu's unacknowledged records of messages taken from ``queues`` (a notifier killed
    holding them leaves them): any later consumer on the same Redis database would restore them
    once their visibility timeout passed, recreating a queue the test had deleted."""
    for tag, raw in client.hscan_iter("unacked"):
        try:
            _message, _exchange, routing_key = json.loads(raw)
        except ValueError:
            continue
        if routing_key in queues:
            client.pipeline().hdel("unacked", tag).zrem("unacked_index", tag).execute()


def make_event(action: str = "push", kind: str = "manifest", repository: str = "library/app",
               tag: str | None = "latest", method: str | None = None,
               media_type: str | None = None, digest: str | None = None) -> Event:
    digest = digest or "sha256:" + uuid.uuid4().hex * 2
    if kind == "blob":
        media_type = media_type or BLOB_MEDIA_TYPE
        tag = None
    elif kind == "manifest":
        media_type = media_type or MANIFEST_MEDIA_TYPE
    url_kind = "blobs" if kind == "blob" else "manifests"
    target = Target(repository=repository, digest=digest, media_type=media_type, size=561,
                    url=f"http://127.0.0.1:5000/v2/{repository}/{url_kind}/{digest}", tag=tag)
    if action == "delete":
        target = Target(repository=repository, digest=None if kind == "tag" else digest,
                        tag=tag if kind == "tag" else None)
    if action == "mount":
        target.from_repository = "library/other"
    method = method or {"push": "PUT", "pull": "GET", "delete": "DELETE", "mount": "POST"}[action]
    return Event(
        kind=kind, action=action, target=target,
        request=RequestRecord(id=str(uuid.uuid4()), addr="192.168.1.100:54321",
                              host="localhost:5000", method=method, useragent="docker/24.0.0"),
        source=Source(addr="localhost:5000", instance_id="instance-id-123"),
        actor="username",
    )


# ---------------------------------------------------------------- notifier processes


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("REGISTRY_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(extra)
    return env


class Process:
    """A ``registry`` subprocess with its output in a log file. ``registry``: the console
    script to run (another installation's, say), this interpreter's by default."""

    def __init__(self, args: list[str], log_path: Path, env: dict[str, str] | None = None,
                 registry: Path = REGISTRY):
        self.log_path = log_path
        self.debug_url: str | None = None
        env = dict(env or clean_env())
        # A process the test kills (SIGKILL) cannot remove its metrics folder: it goes with the
        # test's own temporary folder, not into the machine's.
        env.setdefault("TMPDIR", str(log_path.parent))
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen([str(registry), *args], stdout=log,
                                         stderr=subprocess.STDOUT, env=env,
                                         cwd=REPO_ROOT, start_new_session=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_log(self, text: str, timeout: float = 20.0) -> None:
        def seen() -> bool:
            if self.proc.poll() is not None and text not in self.log():
                raise AssertionError(f"process exited: {self.log()[-3000:]}")
            return text in self.log()

        wait_until(seen, timeout, f"log line {text!r}", interval=0.05)

    def signal(self, sig: int) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)

    def stop(self, timeout: float = 20.0) -> int:
        self.signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            return self.proc.wait(5)


def start_notifier(deployment: Deployment, name: str = "notifier",
                   debug_port: int | None = None, registry: Path = REGISTRY) -> Process:
    """A ``registry notifier`` on the deployment's config, once it consumes every endpoint.
    ``debug_port``: another port for /metrics than the config's (a second notifier)."""
    log_path = deployment.workdir / f"{name}.log"
    env = clean_env()
    if debug_port is not None:
        env["REGISTRY_HTTP_DEBUG_ADDR"] = f"127.0.0.1:{debug_port}"
    process = Process(["notifier", str(deployment.config_path)], log_path, env, registry)
    for ep in deployment.endpoints:
        if not ep.get("disabled"):
            process.wait_log(f"consuming endpoint={ep['name']} ")
    return process


# ---------------------------------------------------------------- private RabbitMQ nodes


class PrivateRabbit:
    """A RabbitMQ node of our own (ports, data and epmd), so a test can stop, start or kill it
    without touching the machine's broker. ``epmd_port`` and ``cookie``: those a cluster's nodes
    share (:class:`PrivateRabbitCluster`); without them the node has an epmd of its own and the
    rabbitmq user's cookie."""

    def __init__(self, epmd_port: int | None = None, cookie: str | None = None) -> None:
        # Under /tmp directly: rabbitmq-server runs as the rabbitmq user, and pytest's own
        # temporary folders are private to us.
        self.dir = Path(tempfile.mkdtemp(prefix="private-rabbit-"))
        self.port, dist = free_port(), free_port()
        self.own_epmd = epmd_port is None
        self.epmd_port = free_port() if epmd_port is None else epmd_port
        self.node = f"rtest{uuid.uuid4().hex[:8]}@localhost"
        self.cookie = cookie
        (self.dir / "rabbitmq.conf").write_text("loopback_users = none\n")
        (self.dir / "enabled_plugins").write_text("[].\n")
        self.env = dict(
            os.environ,
            RABBITMQ_NODENAME=self.node,
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(dist),
            RABBITMQ_MNESIA_BASE=str(self.dir / "mnesia"),
            RABBITMQ_LOG_BASE=str(self.dir / "log"),
            RABBITMQ_CONFIG_FILE=str(self.dir / "rabbitmq.conf"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self.dir / "enabled_plugins"),
            RABBITMQ_PID_FILE=str(self.dir / "pid"),
            ERL_EPMD_PORT=str(self.epmd_port),
        )
        if cookie is not None:
            self.env["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"] = f"-setcookie {cookie}"
        os.chmod(self.dir, 0o755)
        if os.geteuid() == 0:  # rabbitmq-server drops to the rabbitmq user: let it write here
            for path in (self.dir, *self.dir.iterdir()):
                shutil.chown(path, "rabbitmq")
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}//"
        self.server: subprocess.Popen | None = None

    def ctl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        cookie = ["--erlang-cookie", self.cookie] if self.cookie is not None else []
        return subprocess.run(["rabbitmqctl", *cookie, "-n", self.node, *args], env=self.env,
                              capture_output=True, text=True, timeout=timeout)

    def launch(self) -> None:
        """Start the node; :meth:`await_started` waits for it (several nodes start at once)."""
        with open(self.dir / "server.out", "ab") as out:
            self.server = subprocess.Popen(["rabbitmq-server"], env=self.env, stdout=out,
                                           stderr=subprocess.STDOUT, start_new_session=True)

    def await_started(self, timeout: float = 60) -> None:
        def ready() -> bool:
            if self.server is not None and self.server.poll() is not None:
                raise AssertionError("private rabbitmq exited: "
                                     + (self.dir / "server.out").read_text()[-2000:])
            return self.ctl("await_startup", "--timeout", "30").returncode == 0

        wait_until(ready, timeout, f"private RabbitMQ {self.node} to start", interval=0.3)

    def start(self) -> None:
        self.launch()
        self.await_started()

    def vm_pid(self) -> int | None:
        """The Erlang VM's pid (rabbitmq-server runs it under su, in a session of its own)."""
        try:
            return int((self.dir / "pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def kill(self) -> None:
        """SIGKILL the node's VM: a crash, no goodbye to clients or to the cluster."""
        pid = self.vm_pid()
        assert pid is not None, "the node wrote no pid file"
        os.kill(pid, signal.SIGKILL)
        if self.server is not None:
            self.server.wait(30)

    def stop(self) -> None:
        if self.server is not None and self.server.poll() is not None:
            return  # stopped or killed already
        self.ctl("shutdown")
        if self.server is not None:
            try:
                self.server.wait(30)
            except subprocess.TimeoutExpired:
                pid = self.vm_pid()
                if pid is not None:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                os.killpg(self.server.pid, signal.SIGKILL)

    def destroy(self) -> None:
        self.stop()
        if self.own_epmd:
            subprocess.run(["epmd", "-kill"], env=self.env, capture_output=True, timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivateRabbitCluster:
    """``size`` :class:`PrivateRabbit` nodes joined into one RabbitMQ cluster: an epmd of our own
    they all register with (on a free port), and a cookie of their own."""

    def __init__(self, size: int = 3) -> None:
        self.epmd_port = free_port()
        cookie = uuid.uuid4().hex.upper()
        self.nodes = [PrivateRabbit(self.epmd_port, cookie) for _ in range(size)]
        self.epmd: subprocess.Popen | None = None

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    def start(self) -> None:
        # In the foreground, so it is ours to stop by its pid; the relaxed check lets a node
        # that died unregistered be replaced by its namesake.
        self.epmd = subprocess.Popen(["epmd", "-port", str(self.epmd_port),
                                      "-relaxed_command_check"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        for node in self.nodes:
            node.launch()
        for node in self.nodes:
            node.await_started()
        seed = self.nodes[0]
        for node in self.nodes[1:]:
            for args in (("stop_app",), ("join_cluster", seed.node), ("start_app",)):
                done = node.ctl(*args)
                assert done.returncode == 0, f"rabbitmqctl {' '.join(args)}: {done.stderr}"
        status = seed.ctl("cluster_status", "--formatter", "json")
        running = json.loads(status.stdout)["running_nodes"]
        assert sorted(running) == sorted(n.node for n in self.nodes), status.stdout

    def destroy(self) -> None:
        def stop(node: PrivateRabbit) -> None:
            try:
                node.destroy()
            except Exception:  # the others must stop all the same
                pass

        stopping = [threading.Thread(target=stop, args=(node,)) for node in self.nodes]
        for thread in stopping:
            thread.start()
        for thread in stopping:
            thread.join()
        if self.epmd is not None:
            self.epmd.kill()
            self.epmd.wait(10)


# ---------------------------------------------------------------- a real registry serve


def push_image(base_url: str, repository: str, tag: str) -> tuple[str, list[str]]:
    """Push a one-layer OCI image the way a client does (POST, PUT ?digest=, PUT manifest);
    returns the manifest digest and the blob digests (config, layer)."""
    import hashlib

    def digest_of(data: bytes) -> str:
        return "sha256:" + hashlib.sha256(data).hexdigest()

    def upload(data: bytes) -> dict[str, Any]:
        start = requests.post(f"{base_url}/v2/{repository}/blobs/uploads/", timeout=10)
        assert start.status_code == 202, start.text
        location = start.headers["Location"]
        if location.startswith("/"):
            location = base_url + location
        sep = "&" if "?" in location else "?"
        put = requests.put(f"{location}{sep}digest={digest_of(data)}", data=data,
                           headers={"Content-Type": "application/octet-stream"}, timeout=10)
        assert put.status_code == 201, put.text
        return {"digest": digest_of(data), "size": len(data)}

    config = upload(json.dumps({"architecture": "amd64", "os": "linux",
                                "rootfs": {"type": "layers", "diff_ids": []},
                                "nonce": uuid.uuid4().hex}).encode())
    layer = upload(os.urandom(1024))
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": MANIFEST_MEDIA_TYPE,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **layer}],
    }).encode()
    put = requests.put(f"{base_url}/v2/{repository}/manifests/{tag}", data=manifest,
                       headers={"Content-Type": MANIFEST_MEDIA_TYPE}, timeout=10)
    assert put.status_code == 201, put.text
    return digest_of(manifest), [config["digest"], layer["digest"]]


def start_serve(deployment: Deployment, name: str = "serve", registry: Path = REGISTRY,
                env: dict[str, str] | None = None) -> tuple[Process, str]:
    """``registry serve CONFIG`` on the deployment's config (``env``: more variables, such as
    overrides); returns it and its base URL."""
    addr = yaml.safe_load(deployment.config_path.read_text())["http"]["addr"]
    base_url = f"http://{addr}"
    # Its own debug port: a notifier on the same config may hold the configured one.
    debug_port = free_port()
    env = clean_env(REGISTRY_HTTP_DEBUG_ADDR=f"127.0.0.1:{debug_port}", **(env or {}))
    process = Process(["serve", str(deployment.config_path)], deployment.workdir / f"{name}.log",
                      env, registry)
    process.debug_url = f"http://127.0.0.1:{debug_port}"

    def up() -> bool:
        if process.proc.poll() is not None:
            raise AssertionError(f"registry serve exited: {process.log()[-3000:]}")
        try:
            return requests.get(f"{base_url}/v2/", timeout=2).status_code == 200
        except requests.RequestException:  # not listening yet, or a worker still booting
            return False

    wait_until(up, 30, "registry serve to answer", interval=0.1)
    return process, base_url


# ---------------------------------------------------------------- what Redis holds


def redis_event_id(payload: dict) -> str | None:
    """The event id of a kombu message as Redis keeps it (its body in base64); None for a message
    that is not an event (the notifiers' endpoint record)."""
    try:
        return json.loads(base64.b64decode(payload["body"])).get("id")
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def unacked_event_ids(client: Any) -> list[str | None]:
    """The ids of what kombu records as unacknowledged (each entry: message, exchange, key)."""
    return [redis_event_id(json.loads(entry)[0]) for entry in client.hvals("unacked")]


# The start of a script a test runs in a subprocess on the registry's Redis transport: it dies
# (SIGKILL) at the worst moment, a message out of its queue and about to be recorded as
# unacknowledged. The test appends what takes the message (a consumer, a retry mover).
DIE_BEFORE_RECORDING = """
import os, signal, sys
from kombu import Consumer, Producer
from kombu.transport import redis as kombu_redis
from shared.broker import connect, topology_for
from shared.config import load_config

def die(self, message, delivery_tag):
    os.kill(os.getpid(), signal.SIGKILL)

kombu_redis.QoS.append = die
config = load_config(sys.argv[1], environ={})
"""
