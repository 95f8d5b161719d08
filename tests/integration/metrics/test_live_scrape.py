"""Every metric name the dashboards and alert rules query exists in a real scrape.

``registry serve`` (RabbitMQ broker, Redis blob descriptor cache, two endpoints: one answering
200, one answering 500 so events fail, drop and park) and ``registry notifier`` run; traffic
(pushes, pulls, a 404) goes through them; a dead letter is replayed. The union of their two
``/metrics`` pages must hold every name ``tests/deploy/promql_names.used_names()`` finds, and
each page must pass ``promtool check metrics`` but for the lint findings listed below.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid

import pytest
import redis
import requests
from kombu import Connection

from shared.broker import topology_for
from shared.broker.endpoint_record import record_queue
from shared.config import parse_config
from tests.conftest import free_port, require_tool
from tests.deploy.promql_names import STANDARD_NAMES, names_in_exposition, used_names
from tests.integration.metrics.live import (
    REGISTRY,
    REPO_ROOT,
    Process,
    Receiver,
    push_image,
    samples,
    serve_config,
    value,
)

pytestmark = pytest.mark.integration

# promtool's lint findings we accept, each for a name the reference registry defines that way
# (kept so its dashboards work: reference-config-metrics-cache.md, "distribution Prometheus
# metrics"). Any other finding fails the test.
ACCEPTED_LINT = {
    # A gauge despite its _total suffix, as in the reference (notifications/metrics.go).
    ("registry_notifications_pending_total", 'non-counter metrics should not have "_total" suffix'),
}
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def promtool_findings(promtool: str, exposition: str) -> set[tuple[str, str]]:
    """(metric, problem) for each finding of ``promtool check metrics``; fails on anything it
    cannot parse."""
    run = subprocess.run([promtool, "check", "metrics"], input=exposition.encode(),
                         capture_output=True, timeout=30)
    out = (run.stdout + run.stderr).decode()
    # 0: clean; 3: lint findings only; anything else (1: unparsable) is a failure.
    assert run.returncode in (0, 3) and "error while linting" not in out, out
    findings = set()
    for line in out.splitlines():
        if not line.strip():
            continue
        name, sep, problem = line.partition(" ")
        assert sep and name.isidentifier(), f"promtool could not check the exposition: {out}"
        findings.add((name, problem.strip()))
    return findings


REDIS_DB = 4  # this module's own: it empties it afterwards


@pytest.fixture
def stack(tmp_path, rabbitmq_url, redis_addr):
    suffix = uuid.uuid4().hex[:8]
    receiver = Receiver()
    ok, failing = f"ok-{suffix}", f"failing-{suffix}"
    sections = {
        "notifications": {
            "broker": {"url": rabbitmq_url, "exchange": f"live-{suffix}"},
            "endpoints": [
                # pulls are filtered out here, so the filtered counter exists
                {"name": ok, "url": f"{receiver.url}/status/200", "timeout": "2s",
                 "threshold": 3, "backoff": "100ms", "ignore": {"actions": ["pull"]}},
                {"name": failing, "url": f"{receiver.url}/status/500", "timeout": "2s",
                 "threshold": 2, "backoff": "100ms"},
            ]},
        "redis": {"addrs": [redis_addr], "db": REDIS_DB},
    }
    config = serve_config(tmp_path / "root", **sections)
    config["storage"]["cache"] = {"blobdescriptor": "redis"}
    serve = Process("serve", config, tmp_path, "serve")
    notifier_config = {**config, "http": {**config["http"], "debug": {
        **config["http"]["debug"], "addr": config["http"]["debug"]["addr"].rsplit(":", 1)[0]
        + f":{free_port()}"}}}
    # The notifier's metrics folder is known, so the dead-letter command can share it.
    notifier_dir = tmp_path / "notifier-metrics"
    notifier_dir.mkdir()
    notifier = Process("notifier", notifier_config, tmp_path, "notifier",
                       env={"PROMETHEUS_MULTIPROC_DIR": str(notifier_dir)})
    try:
        serve.start()
        notifier.start()
        yield serve, notifier, receiver, (ok, failing), notifier_dir
    finally:
        notifier.stop()
        serve.stop()
        receiver.close()
        host, port = redis_addr.rsplit(":", 1)
        redis.Redis(host=host, port=int(port), db=REDIS_DB).flushdb()  # the cache's entries
        _delete_topology(config, rabbitmq_url, (ok, failing))


def _delete_topology(config: dict, url: str, endpoints: tuple[str, ...]) -> None:
    """The test's queues and exchanges go, so the shared RabbitMQ does not collect them."""
    parsed = parse_config(config)
    topology = topology_for(parsed)
    try:
        with Connection(url, connect_timeout=5) as conn:
            channel = conn.channel()
            record_queue(topology).bind(channel).delete()
            for ep in parsed.notifications.endpoints:
                for queue in (topology.endpoint_queue(ep.name), topology.dead_queue(ep.name),
                              *topology.retry_queues(ep)):
                    queue.bind(channel).delete()
            for exchange in (topology.exchange, topology.requeue_exchange,
                             topology.delay_exchange, topology.dead_exchange):
                exchange.bind(channel).delete()
    except Exception:  # cleanup only; the test's verdict does not depend on it
        pass


def drive_traffic(url: str) -> None:
    digest = push_image(url, "live/app", "v1", os.urandom(64 * 1024))
    push_image(url, "live/other", "v1", os.urandom(1024))
    manifest = requests.get(f"{url}/v2/live/app/manifests/v1", headers={"Accept": MANIFEST},
                            timeout=10)
    assert manifest.status_code == 200 and manifest.headers["Docker-Content-Digest"] == digest
    for layer in manifest.json()["layers"]:
        for _ in range(2):  # the second pull is a cache hit
            r = requests.get(f"{url}/v2/live/app/blobs/{layer['digest']}", timeout=10)
            assert r.status_code == 200 and len(r.content) == layer["size"]
    assert requests.get(f"{url}/v2/live/app/manifests/missing", timeout=10).status_code == 404
    assert requests.get(f"{url}/v2/_catalog", timeout=10).status_code == 200
    assert requests.get(f"{url}/v2/live/app/tags/list", timeout=10).status_code == 200


def test_every_dashboard_and_alert_metric_is_scraped(stack):
    promtool = require_tool("promtool")
    serve, notifier, receiver, (ok, failing), notifier_dir = stack
    drive_traffic(serve.url)

    def scraped(name: str, endpoint: str) -> float:
        return value(notifier.scrape(), name, endpoint=endpoint)

    deadline = time.monotonic() + 30
    while (scraped("registry_notifications_dropped_total", failing) < 1
           or scraped("registry_notifications_sent_total", ok) < 6) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert scraped("registry_notifications_dropped_total", failing) >= 1, notifier.log_text()[-3000:]

    # Replaying dead letters is a command of its own; sharing the notifier's metrics folder
    # (as it does when run in the notifier's container) puts its count in that scrape.
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env["PROMETHEUS_MULTIPROC_DIR"] = str(notifier_dir)
    replay = subprocess.run([str(REGISTRY), "deadletter", str(notifier.config_path), "replay",
                             "--endpoint", failing], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert replay.returncode == 0, replay.stdout + replay.stderr

    wanted = set(used_names()) - STANDARD_NAMES
    deadline = time.monotonic() + 20  # queue depths are read from the broker every few seconds
    while True:
        registry_text, notifier_text = serve.scrape(), notifier.scrape()
        missing = wanted - names_in_exposition(registry_text) - names_in_exposition(notifier_text)
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    where = used_names()
    assert not missing, {name: where[name] for name in sorted(missing)}

    # The traffic itself shows: the 404, cache hits on the second pulls, published events.
    assert value(registry_text, "registry_http_requests_total", handler="manifest",
                 code="404") == 1
    assert value(registry_text, "registry_storage_cache_hits_total") >= 1
    assert value(registry_text, "registry_events_published_total") >= 8

    for text in (registry_text, notifier_text):
        unexpected = promtool_findings(promtool, text) - ACCEPTED_LINT
        assert not unexpected, unexpected


def test_counters_and_the_redis_histogram_exist_at_zero_before_any_event(stack):
    """A series that first appears at 1 has no increase(): the first drop after a notifier
    starts would not fire RegistryNotificationsDropping. So each endpoint's counters are there,
    at 0, before anything happened, and so is the Redis cache's latency histogram."""
    serve, notifier, _receiver, endpoints, _ = stack
    notifier_page = notifier.scrape()
    for endpoint in endpoints:
        for name in ("sent", "failed", "dropped", "filtered", "replayed"):
            metric = f"registry_notifications_{name}_total"
            assert samples(notifier_page, metric, endpoint=endpoint) == [0.0], (metric, endpoint)
    serve_page = serve.scrape()
    for operation in ("Stat", "SetDescriptor", "Clear"):
        assert samples(serve_page, "registry_storage_cache_redis_seconds_count",
                       operation=operation) == [0.0], operation
