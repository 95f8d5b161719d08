import base64
import textwrap

import pytest

from shared.config import ConfigError, load_config, parse_config

BASE = {"version": 0.1, "storage": {"filesystem": {"rootdirectory": "/tmp/r"}}}


def cfg(**extra):
    raw = {**BASE, **extra}
    return parse_config(raw)


def write(tmp_path, text):
    path = tmp_path / "config.yml"
    path.write_text(textwrap.dedent(text))
    return path


def test_guide_example_parses_with_the_guides_values(tmp_path):
    path = write(tmp_path, """
        version: 0.1
        storage:
          filesystem:
            rootdirectory: /var/lib/registry
        http:
          addr: :5000
        notifications:
          events:
            includereferences: true
          endpoints:
            - name: webhook-endpoint
              url: https://your-webhook-endpoint.com/registry-events
              headers:
                Authorization: [Bearer your-secret-token]
              timeout: 5s
              threshold: 5
              backoff: 1s
              ignoredmediatypes:
                - application/octet-stream
              ignore:
                mediatypes:
                  - application/octet-stream
                actions:
                  - pull
        """)
    config = load_config(path, environ={})
    (endpoint,) = config.notifications.endpoints
    assert endpoint.name == "webhook-endpoint"
    assert endpoint.headers == {"Authorization": ("Bearer your-secret-token",)}
    assert (endpoint.timeout, endpoint.threshold, endpoint.backoff) == (5.0, 5, 1.0)
    assert endpoint.ignored_mediatypes == ("application/octet-stream",)
    assert endpoint.ignored_actions == ("pull",)
    assert endpoint.format == "event"
    assert config.notifications.includereferences is True
    assert config.notifications.broker.embedded
    assert config.ignored_keys == ()


def test_endpoint_defaults_are_the_guides():
    config = cfg(notifications={"endpoints": [{"name": "a", "url": "http://x/hook"}]})
    (endpoint,) = config.notifications.endpoints
    assert (endpoint.timeout, endpoint.threshold, endpoint.backoff) == (1.0, 10, 1.0)
    assert endpoint.disabled is False


def test_reference_keys_we_do_not_implement_are_reported_not_fatal():
    config = cfg(
        proxy={"remoteurl": "https://registry-1.docker.io"},
        health={"storagedriver": {"enabled": True, "interval": "10s"}},
        http={"addr": ":5000", "tls": {"letsencrypt": {"email": "a@b"}},
              "headers": {"X-Content-Type-Options": ["nosniff"]}},
        reporting={"bugsnag": {"apikey": "k"}},
    )
    assert set(config.ignored_keys) == {
        "proxy.remoteurl", "health.storagedriver.enabled", "health.storagedriver.interval",
        "http.tls.letsencrypt.email", "reporting.bugsnag.apikey",
    }
    # header names are data, not keys: they must not be reported
    assert config.http.headers == {"X-Content-Type-Options": ("nosniff",)}


@pytest.mark.parametrize(
    "raw, key",
    [
        ({"storage": {}}, "storage"),
        ({"storage": {"azure": {"accountname": "a"}}}, "storage.azure"),
        ({**BASE, "http": {"addr": "five thousand"}}, "http.addr"),
        ({**BASE, "notifications": {"endpoints": [{"name": "a"}]}}, "notifications.endpoints.0.url"),
        ({**BASE, "notifications": {"endpoints": [{"name": "a", "url": "ftp://x"}]}},
         "notifications.endpoints.0.url"),
        ({**BASE, "notifications": {"endpoints": [{"name": "a", "url": "http://x", "timeout": "soon"}]}},
         "notifications.endpoints.0.timeout"),
        ({**BASE, "notifications": {"endpoints": [{"name": "a", "url": "http://x", "threshold": 0}]}},
         "notifications.endpoints.0.threshold"),
        ({**BASE, "notifications": {"endpoints": [{"name": "a", "url": "http://x", "format": "xml"}]}},
         "notifications.endpoints.0.format"),
        ({**BASE, "notifications": {"endpoints": [
            {"name": "a", "url": "http://x", "ignore": {"actions": ["pul"]}}]}},
         "notifications.endpoints.0.ignore.actions"),
        ({**BASE, "notifications": {"endpoints": [{"name": "a", "url": "http://x"},
                                                  {"name": "a", "url": "http://y"}]}},
         "notifications.endpoints"),
        ({**BASE, "notifications": {"broker": {"url": "kafka://x"}}}, "notifications.broker.url"),
        ({**BASE, "storage": {"filesystem": {}, "cache": {"blobdescriptor": "memcached"}}},
         "storage.cache.blobdescriptor"),
        ({**BASE, "storage": {"filesystem": {}, "cache": {"blobdescriptor": "redis"}}}, "redis.addr"),
        ({**BASE, "auth": {"htpasswd": {"realm": "r"}}}, "auth.htpasswd.path"),
        ({**BASE, "log": {"level": "loud"}}, "log.level"),
    ],
)
def test_invalid_config_names_the_key(raw, key):
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    assert err.value.key == key
    assert key in str(err.value)


def test_environment_overrides_the_references_way(tmp_path):
    path = write(tmp_path, """
        storage:
          filesystem:
            rootdirectory: /from/file
        http:
          addr: :5000
        """)
    config = load_config(path, environ={
        "REGISTRY_HTTP_ADDR": "127.0.0.1:6000",
        "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY": "/from/env",
        "REGISTRY_STORAGE_DELETE_ENABLED": "true",
        "REGISTRY_NOTIFICATIONS_BROKER_URL": "amqp://guest:guest@rabbit:5672//",
        "REGISTRY_HTTP_DEBUG_ADDR": ":5001",
        "UNRELATED": "x",
    })
    assert config.http.addr == "127.0.0.1:6000"
    assert config.storage.rootdirectory == "/from/env"
    assert config.storage.delete_enabled is True
    assert config.notifications.broker.url == "amqp://guest:guest@rabbit:5672//"
    assert config.http.debug_addr == ":5001"


def test_secret_header_values_come_from_env_or_file(tmp_path):
    secret_file = tmp_path / "token"
    secret_file.write_text("from-file\n")
    import os

    os.environ["TEST_WEBHOOK_TOKEN"] = "from-env"
    try:
        config = cfg(notifications={"endpoints": [{
            "name": "a", "url": "http://x",
            "headers": {"Authorization": ["${env:TEST_WEBHOOK_TOKEN}"],
                        "X-Token": [f"${{file:{secret_file}}}"]},
        }]})
    finally:
        del os.environ["TEST_WEBHOOK_TOKEN"]
    headers = config.notifications.endpoints[0].headers
    assert headers == {"Authorization": ("from-env",), "X-Token": ("from-file",)}


def test_missing_secret_env_is_a_config_error():
    with pytest.raises(ConfigError) as err:
        cfg(notifications={"endpoints": [{"name": "a", "url": "http://x",
                                          "headers": {"A": ["${env:NOPE_NOT_SET_123}"]}}]})
    assert err.value.key == "notifications.endpoints.0.headers.A"


@pytest.mark.parametrize("header, value, problem", [
    ("X-Token", "abc\r\nX-Injected: 1", "line break"),
    ("Bad Header", "v", "header name"),
    ("X-Token", "abc\u20ac", "Latin-1"),
])
def test_a_header_that_could_not_be_sent_is_a_config_error(header, value, problem):
    with pytest.raises(ConfigError) as err:
        cfg(notifications={"endpoints": [{"name": "a", "url": "http://x",
                                          "headers": {header: [value]}}]})
    assert err.value.key == f"notifications.endpoints.0.headers.{header}"
    assert problem in str(err.value)
    assert "abc" not in str(err.value)  # a header value may be a secret


def test_redis_both_forms():
    old = cfg(redis={"addr": "localhost:6379", "password": "", "db": 2, "dialtimeout": "10ms",
                     "pool": {"maxidle": 16, "maxactive": 64, "idletimeout": "300s"}},
              storage={"filesystem": {}, "cache": {"blobdescriptor": "redis"}})
    assert old.redis.addrs == ("localhost:6379",)
    assert (old.redis.db, old.redis.dialtimeout, old.redis.maxactive) == (2, 0.01, 64)
    assert old.redis.idletimeout == 300.0
    new = cfg(redis={"addrs": ["a:1", "b:2"], "poolsize": 10})
    assert new.redis.addrs == ("a:1", "b:2")
    assert new.redis.maxactive == 10


def test_file_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yml", environ={})
    bad = write(tmp_path, "storage: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad, environ={})


def test_an_empty_driver_mapping_is_not_reported_as_ignored():
    config = parse_config({"storage": {"inmemory": {}}, "auth": {}})
    assert config.storage.driver == "inmemory"
    assert config.ignored_keys == ()


def test_secret_references_in_response_headers_are_refused_not_expanded(tmp_path, monkeypatch):
    """http.headers go out on every response: a ${file:...} there would publish the file."""
    secret_file = tmp_path / "token"
    secret_file.write_text("webhook-secret\n")
    monkeypatch.setenv("TEST_RESPONSE_SECRET", "from-env")
    for value in (f"${{file:{secret_file}}}", "${env:TEST_RESPONSE_SECRET}"):
        with pytest.raises(ConfigError) as err:
            cfg(http={"headers": {"X-Leak": [value]}})
        assert err.value.key == "http.headers.X-Leak"
        assert "webhook-secret" not in str(err.value) and "from-env" not in str(err.value)
    plain = cfg(http={"headers": {"X-Content-Type-Options": ["nosniff"]}})
    assert plain.http.headers == {"X-Content-Type-Options": ("nosniff",)}


GOOD_SECRET = "whsec_" + base64.b64encode(b"k" * 24).decode()


@pytest.mark.parametrize("secrets, key, problem", [
    ({"secret": "whsec_abc"}, "secret", "not base64"),
    ({"secret": "whsec_"}, "secret", "0 bytes"),
    ({"secret": "whsec_" + base64.b64encode(b"short key").decode()}, "secret", "9 bytes"),
    ({"secret": "c2VjcmV0LXdpdGhvdXQtcHJlZml4LTMyLWJ5dGVzIQ=="}, "secret", "starts with whsec_"),
    ({"secrets": [GOOD_SECRET, "whsec_not base64!"]}, "secrets.1", "not base64"),
])
def test_a_signing_secret_that_cannot_sign_fails_at_start(secrets, key, problem):
    with pytest.raises(ConfigError) as err:
        cfg(notifications={"endpoints": [{"name": "a", "url": "http://x", "signing": secrets}]})
    assert err.value.key == f"notifications.endpoints.0.signing.{key}"
    assert problem in str(err.value)
    for value in secrets.get("secrets", [secrets.get("secret")]):
        assert value.removeprefix("whsec_") not in str(err.value) or not value.removeprefix("whsec_")


def test_a_signing_secret_of_24_bytes_or_more_loads():
    config = cfg(notifications={"endpoints": [{"name": "a", "url": "http://x",
                                               "signing": {"secrets": [GOOD_SECRET]}}]})
    assert config.notifications.endpoints[0].signing_secrets == (GOOD_SECRET,)
