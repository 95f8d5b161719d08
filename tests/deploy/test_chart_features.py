"""The chart's values for the registry's features: token auth with its root certificate bundle
from a Secret, and webhook endpoints with TLS files from a Secret, repository filters, HEAD
request filtering, CloudEvents and signing. Rendered by Helm's SDK, validated strictly, and the
containers' files and environment rebuilt and loaded with the registry's own config loader."""

from __future__ import annotations

import datetime as dt
import re
import ssl
from dataclasses import replace

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from services.registry.auth.token import TokenAuthenticator
from shared.config import load_config
from tests.deploy import chart as c
from tests.deploy.test_chart import KUBERNETES_VERSIONS
from tests.deploy.tools import module
from tests.e2e.tokenserver import Signer, access

SIGNER = Signer.generate("chart token signer")
BUNDLE = SIGNER.certificate_pem().decode()
SIGNING_SECRET = "whsec_Y2hhcnQtZmVhdHVyZXMtc2lnbmluZy1rZXkhIQ=="
CONFLICT = "auth.htpasswd.enabled and auth.token.enabled are both true"


def certificate(name: str, key, issuer_name: str, issuer_key, ca: bool) -> str:
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def tls_secret() -> dict[str, str]:
    """A CA, and a client certificate it signed with the certificate's private key."""
    ca_key, client_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    key_pem = client_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {
        "ca.crt": certificate("webhook CA", ca_key, "webhook CA", ca_key, ca=True),
        "tls.crt": certificate("registry notifier", client_key, "webhook CA", ca_key, ca=False),
        "tls.key": key_pem,
    }


USER_SECRETS = {"hooks-tls": tls_secret()}
PRIVATE_KEY = USER_SECRETS["hooks-tls"]["tls.key"]

FEATURES = {
    "broker": {"url": "amqp://u:pw@mq.example:5672/"},
    "rabbitmq": {"enabled": False},
    "auth": {
        "token": {
            "enabled": True,
            "realm": "https://auth.example.com/token",
            "service": "registry.example.com",
            "issuer": "auth.example.com",
            "autoredirect": True,
            "contents": BUNDLE,
        }
    },
    "notifications": {
        "endpoints": [
            {
                "name": "hooks",
                "url": "https://hooks.example.com/registry",
                "format": "cloudevents",
                "maxbackoff": "2m",
                "concurrency": 4,
                "repositories": ["apps/*", "base/alpine"],
                "ignore": {"repositories": ["apps/scratch/*"], "headrequests": True},
                "signingSecret": {"value": SIGNING_SECRET},
                "tls": {"existingSecret": "hooks-tls", "caKey": "ca.crt",
                        "certificateKey": "tls.crt", "keyKey": "tls.key"},
            },
            {"name": "lab", "url": "https://lab.example/", "tls": {"insecureSkipVerify": True}},
        ]
    },
}


@pytest.fixture(scope="module")
def chart():
    with c.load_chart() as loaded:
        yield loaded


@pytest.fixture(scope="module")
def objects(chart):
    return c.render(chart, FEATURES)


def pod_config(objects, deployment_name, tmp_path, user_secrets=USER_SECRETS):
    secrets = c.secret_data(objects, user_secrets)
    root = tmp_path / deployment_name
    env, config_path = c.container_view(objects, c.one(objects, "Deployment", deployment_name), secrets, root)
    c.rebase_file_references(config_path, root)
    return load_config(config_path, environ=env), root


def test_helm_lint_strict_and_kubernetes_schemas_strict_accept_the_features(chart, objects):
    report = c.helm().lint(str(c.CHART), FEATURES, strict=True)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []
    kubernetes_validate = module("kubernetes_validate", "kubernetes-validate")
    errors = []
    for obj in objects:
        for version in KUBERNETES_VERSIONS:
            version = kubernetes_validate.latest_version() if version == "latest" else version
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                errors.append(f"{obj['kind']}/{obj['metadata']['name']} ({version}): {exc.message}")
    assert errors == []


def test_token_auth_reads_the_inline_bundle_from_the_charts_secret(objects, tmp_path):
    config, root = pod_config(objects, "registry", tmp_path)
    assert config.ignored_keys == ()
    token = config.auth.token
    assert config.auth.htpasswd is None
    assert (token.realm, token.service, token.issuer) == (
        "https://auth.example.com/token", "registry.example.com", "auth.example.com")
    assert token.autoredirect is True and token.jwks is None
    bundle = root / token.rootcertbundle.lstrip("/")
    assert bundle.read_text() == BUNDLE
    # The registry's authenticator, built from the mounted file, accepts the signer's tokens.
    authenticator = TokenAuthenticator.from_config(replace(token, rootcertbundle=str(bundle)))
    jwt = SIGNER.issue("alice", [access("repository", "apps/web", "pull")],
                       issuer="auth.example.com", audience="registry.example.com")
    assert authenticator.verify(jwt)["sub"] == "alice"
    # The bundle lives in the chart's Secret, not in the ConfigMap.
    configmap = c.one(objects, "ConfigMap", "registry-config")["data"]["config.yml"]
    assert "BEGIN CERTIFICATE" not in configmap
    assert c.secret_data(objects, {})["registry"]["token-rootcertbundle"] == BUNDLE


def test_token_bundle_from_an_existing_secret(chart, tmp_path):
    values = yaml.safe_load(yaml.safe_dump(FEATURES))
    token = values["auth"]["token"]
    del token["contents"]
    token.update(existingSecret="token-certs", existingSecretKey="bundle.pem")
    objects = c.render(chart, values)
    assert "token-rootcertbundle" not in c.secret_data(objects, {})["registry"]
    config, root = pod_config(objects, "registry", tmp_path,
                              dict(USER_SECRETS, **{"token-certs": {"bundle.pem": BUNDLE}}))
    assert (root / config.auth.token.rootcertbundle.lstrip("/")).read_text() == BUNDLE


def test_endpoint_features_reach_the_notifier_with_tls_files_from_the_secret(objects, tmp_path):
    config, root = pod_config(objects, "registry-notifier", tmp_path)
    assert config.ignored_keys == ()
    hooks, lab = config.notifications.endpoints
    assert hooks.format == "cloudevents"
    assert hooks.repositories == ("apps/*", "base/alpine")
    assert hooks.ignored_repositories == ("apps/scratch/*",)
    assert hooks.ignore_headrequests is True
    assert hooks.signing_secrets == (SIGNING_SECRET,)
    assert (hooks.maxbackoff, hooks.concurrency) == (120.0, 4)
    assert hooks.tls.insecureskipverify is False
    files = {}
    for field in ("ca", "certificate", "key"):
        path = getattr(hooks.tls, field)
        assert path and path.startswith("/etc/registry/tls/endpoints/hooks/")
        files[field] = root / path.lstrip("/")
        assert files[field].is_file(), field
    assert files["key"].read_text() == PRIVATE_KEY
    # The files are what an SSL context needs: the CA, and a certificate matching its key.
    context = ssl.create_default_context(cafile=str(files["ca"]))
    context.load_cert_chain(str(files["certificate"]), str(files["key"]))
    assert lab.tls.insecureskipverify is True
    assert (lab.tls.ca, lab.tls.certificate, lab.tls.key) == (None, None, None)
    assert (lab.format, lab.repositories, lab.ignore_headrequests) == ("event", (), False)


def test_registry_pods_load_the_same_endpoints_without_the_tls_files(objects, tmp_path):
    config, root = pod_config(objects, "registry", tmp_path)
    hooks = config.notifications.endpoints[0]
    assert hooks.tls.key == "/etc/registry/tls/endpoints/hooks/tls.key"
    assert hooks.signing_secrets == (SIGNING_SECRET,)
    # Only notifiers connect to endpoints: the private key is not mounted where it is not used.
    assert not (root / hooks.tls.key.lstrip("/")).exists()
    assert all(PRIVATE_KEY not in p.read_text() for p in root.rglob("*") if p.is_file())


def test_no_configmap_holds_a_private_key_or_secret(objects):
    for configmap in c.find(objects, "ConfigMap"):
        for text in configmap["data"].values():
            assert "PRIVATE KEY" not in text
            assert SIGNING_SECRET not in text and "amqp://" not in text
    config_text = c.one(objects, "ConfigMap", "registry-config")["data"]["config.yml"]
    assert "insecureSkipVerify" not in config_text and "existingSecret" not in config_text


def test_htpasswd_and_token_together_are_refused_with_a_clear_message(chart):
    values = yaml.safe_load(yaml.safe_dump(FEATURES))
    values["auth"]["htpasswd"] = {"enabled": True, "contents": "bob:$2y$05$hash"}
    with pytest.raises(c.helm().HelmRenderError, match=re.escape(CONFLICT)):
        c.render(chart, values)


@pytest.mark.parametrize(("token", "message"), [
    ({"contents": ""}, "auth.token.enabled needs the root certificate bundle"),
    ({"realm": ""}, "auth.token.realm is required"),
    ({"issuer": ""}, "auth.token.issuer is required"),
])
def test_incomplete_token_auth_is_refused_naming_the_key(chart, token, message):
    values = yaml.safe_load(yaml.safe_dump(FEATURES))
    values["auth"]["token"].update(token)
    with pytest.raises(c.helm().HelmRenderError, match=re.escape(message)):
        c.render(chart, values)


@pytest.mark.parametrize("tls", [
    {"caKey": "ca.crt"},                                      # a key of which Secret?
    {"existingSecret": "s"},                                  # which of its keys?
    {"existingSecret": "s", "keyKey": "tls.key"},             # a key without its certificate
    {"existingSecret": "s", "caKey": "ca.crt", "ca": "/x"},   # not a chart key
    {"insecureSkipVerify": "yes"},
])
def test_values_schema_rejects_incomplete_tls(chart, tls):
    with pytest.raises(c.helm().HelmValuesError):
        endpoint = {"name": "x", "url": "https://x", "tls": tls}
        chart.validate_schema({"notifications": {"endpoints": [endpoint]}})


def test_values_schema_rejects_unknown_token_keys(chart):
    chart.validate_schema(FEATURES)
    with pytest.raises(c.helm().HelmValuesError):
        chart.validate_schema({"auth": {"token": {"enabled": True, "rootcertbundle": "/x"}}})


def documented_endpoint() -> dict:
    """The commented endpoint example in values.yaml, uncommented."""
    text = (c.CHART / "values.yaml").read_text()
    block = text.split("  endpoints: []\n", 1)[1]
    lines = []
    for line in block.splitlines():
        if not line.startswith("  # "):
            break
        lines.append(line[4:])
    (endpoint,) = yaml.safe_load("\n".join(lines))
    return endpoint


def test_the_documented_endpoint_example_renders_and_loads(chart, tmp_path):
    endpoint = documented_endpoint()
    for key in ("format", "repositories", "maxbackoff", "concurrency", "signingSecret", "tls"):
        assert key in endpoint, key
    assert {"repositories", "headrequests"} <= set(endpoint["ignore"])
    values = {"notifications": {"endpoints": [endpoint]}}
    chart.validate_schema(values)
    objects = c.render(chart, values)
    doc_secret = "whsec_c2lnbmluZy1rZXktZnJvbS10aGUtcmVhZG1lLWRvYw=="
    user = {"ci-webhook": {"authorization": "Bearer t", "signing-secret": doc_secret},
            "ci-webhook-tls": USER_SECRETS["hooks-tls"]}
    config, root = pod_config(objects, "registry-notifier", tmp_path, user)
    (ci,) = config.notifications.endpoints
    assert config.ignored_keys == () and ci.signing_secrets == (doc_secret,)
    assert ci.ignore_headrequests is True and ci.repositories and ci.ignored_repositories
    assert (root / ci.tls.key.lstrip("/")).read_text() == PRIVATE_KEY
