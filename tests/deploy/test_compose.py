"""compose.yml and what it mounts: both validators (docker-compose 1.29 and the Compose
Specification's JSON schema), the Prometheus and registry configs it hands to the containers,
and the example webhook receiver."""

from __future__ import annotations

import json
import shutil
import threading
import urllib.error
import urllib.request
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from shared.config import load_config
from tests.deploy.tools import REPO, module, run, shared_file, tool

COMPOSE = REPO / "compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def docker_compose_config(path: Path):
    return run([tool("docker-compose", "docker-compose"), "-f", str(path), "config", "-q"], cwd=REPO)


def test_docker_compose_accepts_it():
    result = docker_compose_config(COMPOSE)
    assert result.returncode == 0, result.stderr


def test_docker_compose_rejects_a_broken_copy(tmp_path):
    # Proves the check above really validates: an unknown service key must fail.
    broken = tmp_path / "compose.yml"
    broken.write_text(COMPOSE.read_text().replace("    hostname: rabbitmq", "    hostnme: rabbitmq"))
    result = docker_compose_config(broken)
    assert result.returncode != 0 and "hostnme" in result.stderr


def compose_spec_validator():
    jsonschema = module("jsonschema", "jsonschema")
    schema = json.loads(shared_file("schemas/compose-spec.json").read_text())
    # The schema names draft-07 in a form jsonschema does not recognise: say it explicitly.
    return jsonschema.Draft7Validator(schema)


def test_compose_spec_schema_accepts_it(compose):
    errors = compose_spec_validator().iter_errors(compose)
    assert [f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors] == []


def test_compose_spec_schema_rejects_a_broken_copy(compose):
    broken = json.loads(json.dumps(compose))
    broken["services"]["redis"]["restartt"] = "always"
    assert list(compose_spec_validator().iter_errors(broken))


def test_the_services_asked_for(compose):
    services = compose["services"]
    assert set(services) >= {
        "registry", "notifier", "console", "rabbitmq", "redis", "prometheus", "grafana",
        "webhook-receiver", "postgres",
    }
    # The notifiers share the delivery history in PostgreSQL, its URL a secret.
    assert services["notifier"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    for name in ("registry", "notifier", "console"):  # each loads the whole config
        assert "history_url" in services[name]["secrets"]
    # The console's delivery pages read that history and the broker, as the notifiers do.
    for dependency in ("postgres", "rabbitmq"):
        assert services["console"]["depends_on"][dependency] == {"condition": "service_healthy"}
    assert services["notifier"]["deploy"]["replicas"] == 2
    assert services["registry"]["command"] == ["serve", "/etc/registry/config.yml"]
    assert services["notifier"]["command"] == ["notifier", "/etc/registry/config.yml"]
    assert services["console"]["command"] == ["console", "/etc/registry/config.yml"]
    assert "5002:5002" in services["console"]["ports"]
    # One http.secret for the registry and the console (sessions, the console's reads).
    assert services["console"]["environment"]["REGISTRY_HTTP_SECRET"] == \
        services["registry"]["environment"]["REGISTRY_HTTP_SECRET"]
    assert services["rabbitmq"]["image"].endswith("-management")
    assert "15672:15672" in services["rabbitmq"]["ports"]


def host_mounts(service: dict) -> list[tuple[Path, str]]:
    out = []
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            out.append(((REPO / source).resolve(), target))
    return out


def test_every_bind_mounted_file_exists(compose):
    for name, service in compose["services"].items():
        for source, _ in host_mounts(service):
            assert source.exists(), f"{name} mounts {source}, which is missing"
    for name, secret in compose["secrets"].items():
        assert (REPO / secret["file"]).exists(), name


def test_prometheus_config_and_rules_as_mounted_pass_promtool(compose, tmp_path):
    # Lay the files out as compose mounts them under /etc/prometheus, so the relative rule_files
    # path is checked against the real mount, then let promtool check config and rules.
    root = tmp_path / "etc-prometheus"
    for source, target in host_mounts(compose["services"]["prometheus"]):
        if not target.startswith("/etc/prometheus/"):
            continue  # the data volume
        dest = root / Path(target).relative_to("/etc/prometheus")
        dest.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copy)(source, dest)
    result = run([tool("promtool", "prometheus"), "check", "config", str(root / "prometheus.yml")])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout
    config = yaml.safe_load((root / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    # The job names the alert rules and dashboards select on.
    assert jobs["registry"]["static_configs"][0]["targets"] == ["registry:5001"]
    assert jobs["registry-notifier"]["dns_sd_configs"][0] == {
        "names": ["notifier"], "type": "A", "port": 5001, "refresh_interval": "15s"
    }


def test_grafana_gets_both_dashboards_and_the_datasource(compose):
    mounts = dict((t, s) for s, t in host_mounts(compose["services"]["grafana"]))
    dashboards = mounts["/var/lib/grafana/dashboards"]
    assert sorted(p.name for p in dashboards.glob("*.json")) == ["notifications.json", "registry.json"]
    provisioning = mounts["/etc/grafana/provisioning"]
    provider = yaml.safe_load((provisioning / "dashboards" / "registry.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    datasource = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"


def mounted_config(compose: dict, tmp_path: Path) -> Path:
    """The registry config compose mounts, with each secret's path where compose would put it
    (/run/secrets/NAME) replaced by the file compose takes it from."""
    text = (REPO / "deploy/compose/registry.yml").read_text()
    for name, secret in compose["secrets"].items():
        text = text.replace(f"/run/secrets/{name}", str(REPO / secret["file"]))
    path = tmp_path / "config.yml"
    path.write_text(text)
    return path


def test_the_registry_config_compose_mounts_is_valid(compose, tmp_path):
    # Read it with the registry's own loader, the secrets where compose would put them.
    text = (REPO / "deploy/compose/registry.yml").read_text()
    assert "/run/secrets/webhook_token" in text and "Bearer" not in text  # not inlined
    assert "postgresql://" not in text  # the history's URL (and password) is a secret too
    config = load_config(mounted_config(compose, tmp_path), environ={})
    assert config.history.url == "postgresql://registry:registry@postgres:5432/registry"
    assert config.ignored_keys == ()
    assert config.notifications.broker.url.startswith("amqp://")
    assert config.storage.cache.blobdescriptor == "redis" and config.redis.addrs == ("redis:6379",)
    assert config.http.debug_addr == ":5001"
    assert config.console.addr == ":5002" and config.console.registry == "http://registry:5000"
    (endpoint,) = config.notifications.endpoints
    assert endpoint.url == "http://webhook-receiver:8080/events"
    token = (REPO / compose["secrets"]["webhook_token"]["file"]).read_text().strip()
    assert endpoint.headers["Authorization"] == (token,)
    # The receiver checks the header against the same secret.
    receiver = compose["services"]["webhook-receiver"]
    assert receiver["environment"]["TOKEN_FILE"] == "/run/secrets/webhook_token"
    assert "webhook_token" in receiver["secrets"]
    assert "8080" in receiver["command"]


def test_the_debug_listener_is_reachable_only_where_it_must_be(compose):
    """/metrics and /debug/* have no authentication: ``make run``'s sample binds them to
    loopback; in compose they listen on the containers' network for Prometheus, and no port of
    theirs is published on the host."""
    sample = load_config(REPO / "config/registry.yml", environ={})
    assert sample.http.debug_addr == "127.0.0.1:5001" and sample.http.prometheus_enabled
    for name in ("registry", "notifier"):
        published = [str(p) for p in compose["services"][name].get("ports", [])]
        assert not any("5001" in p for p in published), (name, published)


def test_the_image_default_config_is_valid():
    config = load_config(REPO / "deploy/image/config.yml", environ={})
    assert config.ignored_keys == ()
    assert config.http.debug_addr == ":5001" and config.http.prometheus_enabled
    assert config.storage.rootdirectory == "/var/lib/registry"


@pytest.fixture
def receiver(monkeypatch, tmp_path):
    import importlib.util

    token = tmp_path / "token"
    token.write_text("Bearer t0ken\n")
    monkeypatch.setenv("TOKEN_FILE", str(token))
    spec = importlib.util.spec_from_file_location("receiver", REPO / "deploy/webhook-receiver/receiver.py")
    receiver = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(receiver)
    server = ThreadingHTTPServer(("127.0.0.1", 0), receiver.Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def post(url: str, body: dict, authorization: str | None) -> int:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    if authorization:
        request.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_example_receiver_checks_the_header_and_reads_every_format(receiver):
    event = {"id": "e1", "action": "push", "target": {"repository": "alpine", "tag": "3.20"}}
    assert post(receiver + "/events", event, None) == 401
    assert post(receiver + "/events", event, "Bearer wrong") == 401
    assert post(receiver + "/events", event, "Bearer t0ken") == 200
    assert post(receiver + "/events", {"events": [dict(event, id="e2")]}, "Bearer t0ken") == 200
    cloud = {"specversion": "1.0", "type": "x", "data": dict(event, id="e3")}
    assert post(receiver + "/events", cloud, "Bearer t0ken") == 200
    with urllib.request.urlopen(receiver + "/events", timeout=5) as response:
        assert [e["id"] for e in json.load(response)] == ["e1", "e2", "e3"]


def test_the_rabbitmq_cluster_example_works_once_uncommented(compose, tmp_path):
    """compose.yml's commented example: the registry and the notifiers get every node of a
    RabbitMQ cluster and quorum queues from the environment, and compose still validates."""
    text = COMPOSE.read_text()
    example = [line for line in text.splitlines() if line.startswith("    # REGISTRY_")]
    assert len(example) == 2, example
    for line in example:
        text = text.replace(line, line.replace("# ", "", 1))
    uncommented = yaml.safe_load(text)
    errors = compose_spec_validator().iter_errors(uncommented)
    assert [f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors] == []
    for service in ("registry", "notifier", "console"):  # the console counts queues there too
        environment = uncommented["services"][service]["environment"]
        path = mounted_config(compose, tmp_path)
        broker = load_config(path, environ=environment).notifications.broker
        assert [n.split("@")[1] for n in broker.nodes] == [f"rabbit-{i}:5672/" for i in range(3)]
        assert broker.queuetype == "quorum"
