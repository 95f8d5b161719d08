"""The Helm chart, rendered by Helm's SDK: lint, Kubernetes schemas (strict), the Prometheus
operator objects, and that config and secrets reach the containers the way the registry reads
them."""

from __future__ import annotations

import json

import pytest
import yaml

from shared.config import load_config
from tests.deploy import chart as c
from tests.deploy.tools import REPO, module, run, tool

# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest known.
KUBERNETES_VERSIONS = ("1.25.0", "latest")

# Secrets the production values name but leave to the user to create.
USER_SECRETS = {
    "registry-broker": {"url": "amqp://registry:broker-pw@rabbitmq.messaging.svc:5672/registry"},
    "registry-history": {"url": "postgresql://registry:history-pw@postgres.databases.svc:5432/registry"},
    "registry-redis": {"redis-password": "redis-pw"},
    "registry-http": {"http-secret": "0123456789abcdef"},
    "registry-htpasswd": {"htpasswd": "admin:$2y$05$abcdefghijklmnopqrstuv"},
    "ci-webhook": {"authorization": "Bearer ci-token",
                   "signing-secret": "whsec_Y2ktc2lnbmluZy1rZXktZm9yLWNoYXJ0LXRlc3Rz"},
    "ci-webhook-tls": {"ca.crt": "CA PEM", "tls.crt": "CERT PEM", "tls.key": "KEY PEM"},
}

# Everything given inline: the chart keeps it in its own Secrets.
INLINE = {
    "broker": {"url": "amqp://u:inline-broker-pw@mq.example:5672/"},
    "rabbitmq": {"enabled": False},
    "history": {"url": "postgresql://u:inline-history-pw@db.example:5432/registry"},
    "postgresql": {"enabled": False},
    "redis": {"addr": "redis.example:6379", "password": "inline-redis-pw"},
    "httpSecret": {"value": "inline-http-secret"},
    "auth": {"htpasswd": {"enabled": True, "contents": "bob:$2y$05$inlinehash"}},
    "registry": {"replicas": 3},
    "notifications": {
        "endpoints": [
            {
                "name": "hooks.ci",
                "url": "http://ci.example/hook",
                "headers": {"X-Plain": ["visible"]},
                "secretHeaders": [
                    {"name": "Authorization", "value": "Bearer inline-token"},
                    {"name": "X-Api-Key", "existingSecret": "api-keys", "key": "ci"},
                ],
                "signingSecret": {"value": "whsec_aW5saW5lLXNpZ25pbmcta2V5LWZvci1jaGFydHM="},
            },
            {"name": "plain", "url": "https://plain.example/", "disabled": True},
        ]
    },
    "ingress": {"enabled": True, "className": "nginx",
                "tls": [{"secretName": "t", "hosts": ["registry.example.com"]}]},
    "monitoring": {"serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": True},
                   "dashboards": {"enabled": True}},
}
INLINE_USER_SECRETS = {"api-keys": {"ci": "key-from-user-secret"}}

S3 = {
    "storage": {
        "driver": "s3",
        "s3": {"bucket": "blobs", "region": "eu-west-1", "existingSecret": "s3-keys"},
    },
    "registry": {"autoscaling": {"enabled": True}},
}


@pytest.fixture(scope="module")
def chart():
    with c.load_chart() as loaded:
        yield loaded


def production() -> dict:
    return yaml.safe_load(c.PRODUCTION_VALUES.read_text())


S3_SPOOL = {**S3, "storage": {**S3["storage"], "spool": {"persistence": {"enabled": True}}}}

VALUE_SETS = {"default": dict, "production": production, "inline": lambda: INLINE, "s3": lambda: S3,
              "s3-spool": lambda: S3_SPOOL}


@pytest.fixture(scope="module", params=sorted(VALUE_SETS))
def rendered(request, chart):
    return request.param, c.render(chart, VALUE_SETS[request.param]())


# ---------------------------------------------------------------- Helm and Kubernetes validity


@pytest.mark.parametrize("values", sorted(VALUE_SETS))
def test_helm_lint_strict_finds_nothing(values):
    report = c.helm().lint(str(c.CHART), VALUE_SETS[values](), strict=True)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_every_object_validates_against_kubernetes_schemas_strictly(rendered):
    kubernetes_validate = module("kubernetes_validate", "kubernetes-validate")
    name, objects = rendered
    checked, errors = 0, []
    for obj in objects:
        if obj["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # CRDs: no schema in kubernetes-validate; checked structurally below
        for version in KUBERNETES_VERSIONS:
            version = kubernetes_validate.latest_version() if version == "latest" else version
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                where = f"{obj['kind']}/{obj['metadata']['name']} {'.'.join(map(str, exc.path))}"
                errors.append(f"{name} values, Kubernetes {version}: {where}: {exc.message}")
        checked += 1
    assert errors == []
    assert checked >= 10


def test_the_objects_asked_for_are_there(chart):
    objects = c.render(chart, production())
    kinds = sorted(o["kind"] for o in objects)
    for kind, count in {"Deployment": 3, "HorizontalPodAutoscaler": 2, "PodDisruptionBudget": 2,
                        "Service": 4, "Ingress": 2, "ConfigMap": 3, "PersistentVolumeClaim": 1,
                        "ServiceMonitor": 1, "PrometheusRule": 1}.items():
        assert kinds.count(kind) == count, kind
    # Autoscaled Deployments leave replicas to the HPA.
    for name in ("registry", "registry-notifier"):
        assert "replicas" not in c.one(objects, "Deployment", name)["spec"]
    assert c.one(objects, "Deployment", "registry-console")["spec"]["replicas"] == 1
    hpa_targets = {h["spec"]["scaleTargetRef"]["name"] for h in c.find(objects, "HorizontalPodAutoscaler")}
    assert hpa_targets == {"registry", "registry-notifier"}
    # The production values use an external broker: no RabbitMQ in the release.
    assert not c.find(objects, "StatefulSet")


def test_services_and_ingress_point_at_real_pods_and_ports(rendered):
    _, objects = rendered
    workloads = c.find(objects, "Deployment") + c.find(objects, "StatefulSet")
    for service in c.find(objects, "Service"):
        selector = service["spec"]["selector"]
        pods = [w["spec"]["template"] for w in workloads
                if selector.items() <= w["spec"]["template"]["metadata"]["labels"].items()]
        assert pods, f"service {service['metadata']['name']} selects no pod"
        ports = {p["name"] for pod in pods for ctr in pod["spec"]["containers"] for p in ctr["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports
    services = {s["metadata"]["name"]: s for s in c.find(objects, "Service")}
    for ingress in c.find(objects, "Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                ports = services[backend["name"]]["spec"]["ports"]
                assert backend["port"]["name"] in {p["name"] for p in ports}


def test_pods_run_non_root_read_only_with_health_probes_on_the_debug_port(rendered):
    _, objects = rendered
    for deployment in c.find(objects, "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == 10001  # the image's user
        assert pod["enableServiceLinks"] is False  # REGISTRY_*_PORT would read as config keys
        (container,) = pod["containers"]
        # Kubernetes' "restricted" Pod Security Standard, plus a read-only root.
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert any(m["mountPath"] == "/tmp" for m in container["volumeMounts"])  # the writable scratch
        assert container["args"][1] == "/etc/registry/config.yml"
        if container["args"][0] == "console":  # no debug listener: /health on its own port
            assert {"name": "console", "containerPort": 5002, "protocol": "TCP"} in container["ports"]
            for probe in ("livenessProbe", "readinessProbe"):
                assert container[probe]["httpGet"] == {"path": "/health", "port": "console"}
            continue
        assert {"name": "debug", "containerPort": 5001, "protocol": "TCP"} in container["ports"]
        ready = "/debug/ready" if container["args"][0] == "serve" else "/debug/health"
        assert container["livenessProbe"]["httpGet"] == {"path": "/debug/health", "port": "debug"}
        assert container["readinessProbe"]["httpGet"] == {"path": ready, "port": "debug"}
        assert container["args"][0] in ("serve", "notifier")


# ---------------------------------------------------------------- storage


def access_modes(chart, values: dict) -> list[str]:
    (claim,) = c.find(c.render(chart, values), "PersistentVolumeClaim")
    return claim["spec"]["accessModes"]


def test_one_replica_gets_read_write_once_several_get_read_write_many(chart):
    assert access_modes(chart, {}) == ["ReadWriteOnce"]
    assert access_modes(chart, {"registry": {"replicas": 3}}) == ["ReadWriteMany"]
    assert access_modes(chart, {"registry": {"autoscaling": {"enabled": True}}}) == ["ReadWriteMany"]


def test_several_replicas_on_a_read_write_once_volume_are_refused(chart):
    helm = c.helm()
    values = {"registry": {"replicas": 2}, "storage": {"persistence": {"accessModes": ["ReadWriteOnce"]}}}
    with pytest.raises(helm.HelmRenderError, match="ReadWriteMany"):
        c.render(chart, values)


def test_an_existing_claim_is_used_and_none_is_created(chart):
    objects = c.render(chart, {"storage": {"persistence": {"existingClaim": "my-blobs"}}})
    assert not c.find(objects, "PersistentVolumeClaim")
    volumes = c.one(objects, "Deployment", "registry")["spec"]["template"]["spec"]["volumes"]
    assert {"name": "storage", "persistentVolumeClaim": {"claimName": "my-blobs"}} in volumes


def state_volume(objects) -> tuple[dict, str]:
    """The registry pod's ``state`` volume (the event spool with S3 storage) and where the
    config's state directory is mounted."""
    pod = c.one(objects, "Deployment", "registry")["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "state"]
    (container,) = pod["containers"]
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "state"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["REGISTRY_STATE_DIRECTORY"] == mount["mountPath"]
    return volume, mount["mountPath"]


def test_with_s3_the_spool_is_pod_local_unless_made_persistent(chart):
    objects = c.render(chart, S3)
    assert not c.find(objects, "PersistentVolumeClaim")
    assert state_volume(objects)[0] == {"name": "state", "emptyDir": {}}


def test_a_persistent_spool_is_one_claim_every_replica_shares(chart):
    objects = c.render(chart, S3_SPOOL)  # autoscaled: several replicas
    (claim,) = c.find(objects, "PersistentVolumeClaim")
    assert claim["metadata"]["name"] == "registry-spool"
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    assert state_volume(objects)[0] == {"name": "state",
                                        "persistentVolumeClaim": {"claimName": "registry-spool"}}
    one = {"storage": {**S3_SPOOL["storage"]}, "registry": {"replicas": 1}}
    (claim,) = c.find(c.render(chart, one), "PersistentVolumeClaim")
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]


def test_a_persistent_spool_on_an_existing_claim_or_a_read_write_once_one(chart):
    storage = {**S3["storage"], "spool": {"persistence": {"enabled": True,
                                                          "existingClaim": "my-spool"}}}
    objects = c.render(chart, {"storage": storage})
    assert not c.find(objects, "PersistentVolumeClaim")
    assert state_volume(objects)[0]["persistentVolumeClaim"] == {"claimName": "my-spool"}
    storage = {**S3["storage"], "spool": {"persistence": {"enabled": True,
                                                          "accessModes": ["ReadWriteOnce"]}}}
    with pytest.raises(c.helm().HelmRenderError,
                       match="share the spool volume: storage.spool.persistence.accessModes"):
        c.render(chart, {"storage": storage, "registry": {"replicas": 2}})


# ---------------------------------------------------------------- config and secrets


def check_pod_config(objects, deployment_name, secrets, tmp_path):
    deployment = c.one(objects, "Deployment", deployment_name)
    root = tmp_path / deployment_name
    env, config_path = c.container_view(objects, deployment, secrets, root)
    c.rebase_file_references(config_path, root)
    return load_config(config_path, environ=env), root


def test_production_secrets_reach_both_containers_from_the_users_secrets(chart, tmp_path):
    objects = c.render(chart, production())
    secrets = c.secret_data(objects, USER_SECRETS)
    for name in ("registry", "registry-notifier"):
        config, root = check_pod_config(objects, name, secrets, tmp_path)
        assert config.ignored_keys == ()
        ci = next(e for e in config.notifications.endpoints if e.name == "ci")
        assert ci.headers["Authorization"] == ("Bearer ci-token",)
        assert ci.headers["X-Registry"] == ("registry.example.com",)
        assert ci.signing_secrets == ("whsec_Y2ktc2lnbmluZy1rZXktZm9yLWNoYXJ0LXRlc3Rz",)
        assert ci.ignored_actions == ("pull",) and ci.threshold == 10
        assert config.notifications.broker.url == USER_SECRETS["registry-broker"]["url"]
    # The notifiers write the delivery history to the user's database.
    config, _ = check_pod_config(objects, "registry-notifier", secrets, tmp_path / "history")
    assert config.history.url == USER_SECRETS["registry-history"]["url"]
    assert config.history.retention == 168 * 3600 and not config.history.disabled
    # The registry alone needs the HTTP secret, Redis password and htpasswd file.
    config, root = check_pod_config(objects, "registry", secrets, tmp_path / "again")
    assert config.http.secret == "0123456789abcdef"
    assert config.redis.password == "redis-pw" and config.redis.addrs == ("redis-master.cache.svc:6379",)
    assert config.storage.cache.blobdescriptor == "redis"
    htpasswd = root / config.auth.htpasswd.path.lstrip("/")
    assert htpasswd.read_text() == USER_SECRETS["registry-htpasswd"]["htpasswd"]
    assert config.http.host == "https://registry.example.com"


def test_inline_secrets_are_kept_in_secrets_never_in_the_configmap(chart, tmp_path):
    objects = c.render(chart, INLINE)
    configmap = c.one(objects, "ConfigMap", "registry-config")["data"]["config.yml"]
    for secret in ("inline-broker-pw", "inline-history-pw", "inline-redis-pw", "inline-http-secret",
                   "inlinehash", "inline-token", "whsec_aW5saW5lLXNpZ25pbmcta2V5LWZvci1jaGFydHM=",
                   "key-from-user-secret"):
        assert secret not in configmap
    secrets = c.secret_data(objects, INLINE_USER_SECRETS)
    for name in ("registry", "registry-notifier"):
        config, _ = check_pod_config(objects, name, secrets, tmp_path)
        hooks = config.notifications.endpoints[0]
        assert hooks.headers == {
            "Authorization": ("Bearer inline-token",),
            "X-Api-Key": ("key-from-user-secret",),
            "X-Plain": ("visible",),
        }
        assert hooks.signing_secrets == ("whsec_aW5saW5lLXNpZ25pbmcta2V5LWZvci1jaGFydHM=",)
        assert config.notifications.endpoints[1].disabled is True
        assert config.notifications.broker.url == "amqp://u:inline-broker-pw@mq.example:5672/"
    config, _ = check_pod_config(objects, "registry", secrets, tmp_path / "again")
    assert config.http.secret == "inline-http-secret" and config.redis.password == "inline-redis-pw"
    config, _ = check_pod_config(objects, "registry-notifier", secrets, tmp_path / "history")
    assert config.history.url == INLINE["history"]["url"]


def test_the_console_reads_the_config_with_the_registrys_secret_and_service(chart, tmp_path):
    objects = c.render(chart, {**production(), "console": {"operators": ["admin"]}})
    secrets = c.secret_data(objects, USER_SECRETS)
    config, _ = check_pod_config(objects, "registry-console", secrets, tmp_path)
    assert config.ignored_keys == ()
    assert config.console.listen_addr == ":5002" and config.console.operators == ("admin",)
    assert config.console.registry == "http://registry:5000"  # the API Service
    assert config.http.secret == USER_SECRETS["registry-http"]["http-secret"]
    # The delivery pages: the notifiers' broker and history database, from the same Secrets.
    assert config.notifications.broker.url == USER_SECRETS["registry-broker"]["url"]
    assert config.history.url == USER_SECRETS["registry-history"]["url"]
    # The registry pods read the same file and start no console (they have a broker).
    registry, _ = check_pod_config(objects, "registry", secrets, tmp_path / "registry")
    assert registry.console.addr == ":5002" and not registry.notifications.broker.embedded


def test_the_console_ingress_is_optional_and_the_console_can_be_left_out(chart):
    objects = c.render(chart, {"console": {"ingress": {"enabled": True, "className": "nginx"}}})
    ingress = c.one(objects, "Ingress", "registry-console")
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "registry-console", "port": {"name": "console"}}
    assert c.one(objects, "Service", "registry-console")["spec"]["ports"][0]["port"] == 5002
    without = c.render(chart, {"console": {"enabled": False}})
    assert not [o for o in without if o["metadata"]["name"].endswith("-console")]
    configmap = c.one(without, "ConfigMap", "registry-config")["data"]["config.yml"]
    assert "console" not in yaml.safe_load(configmap)


def test_default_install_reaches_its_own_rabbitmq(chart, tmp_path):
    objects = c.render(chart, {})
    secrets = c.secret_data(objects, {})
    password = secrets["registry-rabbitmq"]["password"]
    assert len(password) >= 24  # generated
    for name in ("registry-notifier", "registry-console"):  # the console counts queues too
        config, _ = check_pod_config(objects, name, secrets, tmp_path / name)
        assert config.notifications.broker.url == \
            f"amqp://registry:{password}@registry-rabbitmq:5672/"
    rabbit = c.one(objects, "StatefulSet", "registry-rabbitmq")
    env = {e["name"]: e for e in rabbit["spec"]["template"]["spec"]["containers"][0]["env"]}
    password_ref = env["RABBITMQ_DEFAULT_PASS"]["valueFrom"]["secretKeyRef"]
    assert password_ref == {"name": "registry-rabbitmq", "key": "password"}
    config, _ = check_pod_config(objects, "registry", secrets, tmp_path / "r")
    assert config.ignored_keys == () and config.storage.cache.blobdescriptor == "inmemory"


def test_default_install_keeps_the_history_in_its_own_postgresql(chart, tmp_path):
    objects = c.render(chart, {})
    secrets = c.secret_data(objects, {})
    password = secrets["registry-postgresql"]["password"]
    assert len(password) >= 24  # generated
    for name in ("registry-notifier", "registry-console"):  # one writes, the other reads
        config, _ = check_pod_config(objects, name, secrets, tmp_path / name)
        assert config.history.url == \
            f"postgresql://registry:{password}@registry-postgresql:5432/registry"
    database = c.one(objects, "StatefulSet", "registry-postgresql")
    env = {e["name"]: e for e in database["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "registry-postgresql", "key": "password"}
    assert env["POSTGRES_DB"]["value"] == "registry"
    service = c.one(objects, "Service", "registry-postgresql")
    assert service["spec"]["ports"][0]["port"] == 5432


def test_history_off_renders_no_database_and_says_so_in_the_config(chart, tmp_path):
    objects = c.render(chart, {"history": {"enabled": False}})
    assert not c.find(objects, "StatefulSet", "registry-postgresql")
    config, _ = check_pod_config(objects, "registry-notifier", c.secret_data(objects, {}), tmp_path)
    assert config.history.disabled


def test_no_history_database_is_refused_with_a_clear_message(chart):
    with pytest.raises(c.helm().HelmRenderError, match="the delivery history needs a database"):
        c.render(chart, {"postgresql": {"enabled": False}})


def test_s3_credentials_come_from_the_users_secret(chart, tmp_path):
    objects = c.render(chart, S3)
    assert not c.find(objects, "PersistentVolumeClaim")
    secrets = c.secret_data(objects, {"s3-keys": {"accesskey": "AKIA", "secretkey": "s3cr3t"}})
    config, _ = check_pod_config(objects, "registry", secrets, tmp_path)
    assert config.storage.driver == "s3" and config.storage.s3.bucket == "blobs"
    assert (config.storage.s3.accesskey, config.storage.s3.secretkey) == ("AKIA", "s3cr3t")


def test_no_broker_is_refused_with_a_clear_message(chart):
    with pytest.raises(c.helm().HelmRenderError, match="a broker is required"):
        c.render(chart, {"rabbitmq": {"enabled": False}})


def test_values_schema_rejects_mistakes(chart):
    helm = c.helm()
    chart.validate_schema(production())
    for bad in (
        {"notifications": {"endpoints": [{"name": "no-url"}]}},
        {"notifications": {"endpoints": [{"name": "x", "url": "ftp://x"}]}},
        {"notifications": {"endpoints": [{"name": "x", "url": "http://x",
                                          "secretHeaders": [{"name": "Authorization"}]}]}},
        {"storage": {"driver": "gcs"}},
        {"regsitry": {"replicas": 2}},  # a typo is an error, not a silently ignored key
        {"redis": {"addr": "redis://host:6379"}},
    ):
        with pytest.raises(helm.HelmValuesError):
            chart.validate_schema(bad)


# ---------------------------------------------------------------- monitoring


def test_chart_ships_exact_copies_of_the_dashboards_and_rules():
    # Helm reads nothing outside the chart: dashboards/ and alerts/ are the canonical copies,
    # helm/registry/files/ mirrors them. Fix a failure with:
    #   cp dashboards/*.json helm/registry/files/dashboards/
    #   cp alerts/registry-rules.yml helm/registry/files/alerts/
    pairs = [(REPO / "alerts/registry-rules.yml", c.CHART / "files/alerts/registry-rules.yml")]
    pairs += [(p, c.CHART / "files/dashboards" / p.name) for p in (REPO / "dashboards").glob("*.json")]
    assert sorted(p.name for p in (c.CHART / "files/dashboards").iterdir()) == sorted(
        p.name for p in (REPO / "dashboards").glob("*.json"))
    for canonical, copy in pairs:
        assert copy.read_bytes() == canonical.read_bytes(), f"{copy} differs from {canonical}"


def test_service_monitor_scrapes_both_metrics_services_under_the_rules_job_names(chart):
    objects = c.render(chart, production())
    (monitor,) = c.find(objects, "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    spec = monitor["spec"]
    selected = []
    for service in c.find(objects, "Service"):
        labels = service["metadata"]["labels"]
        if spec["selector"]["matchLabels"].items() <= labels.items() and all(
            e["operator"] == "Exists" and e["key"] in labels for e in spec["selector"]["matchExpressions"]
        ):
            selected.append(service)
    names = sorted(s["metadata"]["name"] for s in selected)
    assert names == ["registry-metrics", "registry-notifier-metrics"]
    jobs = {s["metadata"]["labels"][spec["jobLabel"]] for s in selected}
    assert jobs == {"registry", "registry-notifier"}
    rules = (REPO / "alerts/registry-rules.yml").read_text()
    for job in jobs:
        assert f'job="{job}"' in rules
    (endpoint,) = spec["endpoints"]
    assert endpoint["path"] == "/metrics"
    for service in selected:
        assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}


def test_prometheus_rule_carries_the_alert_rules_and_promtool_accepts_them(chart, tmp_path):
    objects = c.render(chart, production())
    (rule,) = c.find(objects, "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert set(rule["spec"]) == {"groups"}
    assert rule["spec"] == yaml.safe_load((REPO / "alerts/registry-rules.yml").read_text())
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(rule["spec"]))
    result = run([tool("promtool", "prometheus"), "check", "rules", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboards_are_configmaps_for_grafanas_sidecar(chart):
    objects = c.render(chart, production())
    dashboards = [m for m in c.find(objects, "ConfigMap") if "dashboard" in m["metadata"]["name"]]
    assert len(dashboards) == 2
    for configmap in dashboards:
        assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
        ((key, text),) = configmap["data"].items()
        assert json.loads(text) == json.loads((REPO / "dashboards" / key).read_text())
    assert not [m for m in c.find(c.render(chart, {}), "ConfigMap") if "dashboard" in m["metadata"]["name"]]


def test_notes_tell_how_to_push_a_first_image(chart):
    text = c.notes(chart, {})
    assert "port-forward service/registry 5000:5000" in text
    assert "skopeo copy --dest-tls-verify=false" in text and "localhost:5000/alpine" in text
    text = c.notes(chart, production())
    assert "registry.example.com/alpine:3.20 --dest-creds USER:PASSWORD" in text
    assert "ci -> https://ci.example.com/hooks/registry" in text


def test_a_chosen_rabbitmq_password_is_percent_encoded_in_the_url(chart):
    from kombu.utils.url import url_to_parts

    objects = c.render(chart, {"rabbitmq": {"password": "p@ss:w/rd"}})
    secrets = c.secret_data(objects, {})
    parts = url_to_parts(secrets["registry-rabbitmq"]["url"])
    assert (parts.username, parts.password, parts.hostname) == ("registry", "p@ss:w/rd", "registry-rabbitmq")
    assert secrets["registry-rabbitmq"]["password"] == "p@ss:w/rd"


def test_the_packaged_chart_carries_its_files_and_renders_the_same(chart, tmp_path):
    # .helmignore must not drop the dashboards, rules or schema the templates read.
    helm = c.helm()
    archive = helm.package(str(c.CHART), destination=str(tmp_path))
    with helm.Chart.load(archive) as packaged:
        names = {f["name"] for f in packaged.files}
        assert {"files/alerts/registry-rules.yml", "files/dashboards/registry.json",
                "files/dashboards/notifications.json", "values-production.yaml"} <= names
        assert packaged.schema == json.loads((c.CHART / "values.schema.json").read_text())
        values = production()
        assert strip_random(c.render(packaged, values)) == strip_random(c.render(chart, values))


def strip_random(objects: list[dict]) -> list[dict]:
    """Objects without what differs per render: generated secrets and the checksums of them."""
    out = json.loads(json.dumps(objects))
    for obj in out:
        if obj["kind"] == "Secret":
            obj["data"] = sorted(obj.get("data", {}))
        annotations = obj.get("spec", {}).get("template", {}).get("metadata", {}).get("annotations", {})
        annotations.pop("checksum/secrets", None)
    return out


def test_a_long_release_name_keeps_every_name_within_kubernetes_limits(chart):
    kubernetes_validate = module("kubernetes_validate", "kubernetes-validate")
    objects = c.render(chart, dict(INLINE, rabbitmq={"enabled": True}, broker={}), name="r" * 53)
    for obj in objects:
        name = obj["metadata"]["name"]
        limit = {"Service": 63, "StatefulSet": 52}.get(obj["kind"], 253)
        assert len(name) <= limit, (obj["kind"], name)
        if not obj["apiVersion"].startswith("monitoring.coreos.com/"):
            kubernetes_validate.validate(obj, kubernetes_validate.latest_version(), strict=True)
