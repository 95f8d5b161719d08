"""Descriptors with ``urls``: only a foreign or non-distributable layer may be absent from the
repository, only http(s) URLs, and only those ``validation.manifests.urls`` allows."""

from __future__ import annotations

import json

import pytest

from services.registry.domain import layout
from services.registry.domain.errors import RegistryError
from services.registry.domain.manifest_urls import URLPolicy
from services.registry.domain.registry import Registry
from services.registry.storage.inmemory import InMemoryDriver
from shared.config import ConfigError, ValidationConfig, parse_config
from tests.unit.registry.registry_builders import OCI_MANIFEST, digest

CONFIG = b'{"architecture":"amd64","os":"linux"}'
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_FOREIGN = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
OCI_NONDIST = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
ABSENT = digest(b"bytes the registry never received")
LAYERS_SITE = "https://layers.example.com/"


def policy(allow=(), deny=(), enabled=True) -> URLPolicy:
    return URLPolicy.from_config(ValidationConfig(enabled, tuple(allow), tuple(deny)))


def registry(url_policy: URLPolicy | None = None) -> Registry:
    reg = Registry(InMemoryDriver(), url_policy=url_policy)
    reg.put_blob("repo", digest(CONFIG), [CONFIG])
    return reg


def manifest(layers: list[dict], config: dict | None = None) -> bytes:
    return json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": config or {"mediaType": OCI_CONFIG, "digest": digest(CONFIG), "size": len(CONFIG)},
        "layers": layers,
    }).encode()


def layer(media_type: str, urls: list | None = None, of: str = ABSENT) -> dict:
    desc = {"mediaType": media_type, "digest": of, "size": 33}
    if urls is not None:
        desc["urls"] = urls
    return desc


def refused(reg: Registry, body: bytes) -> RegistryError:
    with pytest.raises(RegistryError) as err:
        reg.put_manifest("repo", "v1", body, OCI_MANIFEST)
    assert not reg.driver.exists(layout.blob_data(digest(body))), "the manifest was stored"
    return err.value


def test_a_config_with_urls_must_be_in_the_repository():
    reg = registry(policy(allow=[".*"]))
    body = manifest([], config={"mediaType": OCI_CONFIG, "digest": ABSENT, "size": 33,
                                "urls": [LAYERS_SITE + "config"]})
    err = refused(reg, body)
    assert (err.code, err.status) == ("MANIFEST_BLOB_UNKNOWN", 400)
    assert err.detail == {"digests": [ABSENT]}


def test_an_ordinary_layer_with_urls_must_be_in_the_repository():
    reg = registry(policy(allow=[".*"]))
    err = refused(reg, manifest([layer(OCI_LAYER, [LAYERS_SITE + "x"])]))
    assert (err.code, err.status) == ("MANIFEST_BLOB_UNKNOWN", 400)


@pytest.mark.parametrize("media_type", [DOCKER_FOREIGN, OCI_NONDIST])
def test_a_foreign_layer_without_urls_must_be_in_the_repository(media_type):
    err = refused(registry(policy(allow=[".*"])), manifest([layer(media_type)]))
    assert err.code == "MANIFEST_BLOB_UNKNOWN"


@pytest.mark.parametrize("media_type", [DOCKER_FOREIGN, OCI_NONDIST])
def test_a_foreign_layer_at_an_allowed_url_need_not_be_here(media_type):
    reg = registry(policy(allow=["^https://layers\\.example\\.com/"], deny=["/private/"]))
    body = manifest([layer(media_type, [LAYERS_SITE + "public/x.tar.gz"])])
    stored = reg.put_manifest("repo", "v1", body, OCI_MANIFEST)
    assert reg.get_manifest("repo", "v1").content == body
    assert ABSENT in stored.references
    for url, reason in ((LAYERS_SITE + "private/x.tar.gz", "deny"),
                        ("https://elsewhere.example.org/x.tar.gz", "allow")):
        err = refused(reg, manifest([layer(media_type, [url])]))
        assert (err.code, err.status) == ("MANIFEST_INVALID", 400)
        assert reason in err.detail["reason"] and "layers[0].urls[0]" in err.detail["reason"]


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://layers.example.com/x",
                                 "https://layers.example.com/x#fragment", "//no-scheme/x",
                                 "http:no-host", "https://[::1/x"])
def test_only_http_and_https_urls(url):
    for reg in (registry(policy(allow=[".*"])), registry(policy(enabled=False))):
        err = refused(reg, manifest([layer(DOCKER_FOREIGN, [url])]))
        assert (err.code, err.status) == ("MANIFEST_INVALID", 400), url


def test_by_default_no_url_is_allowed_as_in_the_reference():
    err = refused(registry(), manifest([layer(DOCKER_FOREIGN, [LAYERS_SITE + "x"])]))
    assert err.code == "MANIFEST_INVALID" and "allow" in err.detail["reason"]


def test_with_validation_disabled_any_http_url_is_allowed():
    reg = registry(policy(enabled=False))
    reg.put_manifest("repo", "v1", manifest([layer(DOCKER_FOREIGN, ["http://anywhere/x"])]),
                     OCI_MANIFEST)


def test_a_url_on_a_layer_that_is_here_is_checked_too():
    """What the manifest says is served back to every client that pulls it."""
    reg = registry(policy(allow=["^https://"]))
    present = digest(b"a layer")
    reg.put_blob("repo", present, [b"a layer"])
    err = refused(reg, manifest([layer(OCI_LAYER, ["file:///etc/passwd"], of=present)]))
    assert err.code == "MANIFEST_INVALID"
    reg.put_manifest("repo", "v1", manifest([layer(OCI_LAYER, [LAYERS_SITE + "x"], of=present)]),
                     OCI_MANIFEST)


@pytest.mark.parametrize("urls", ["https://x/", [1, 2], [None], {"a": "b"}])
def test_urls_must_be_a_list_of_strings(urls):
    err = refused(registry(policy(allow=[".*"])), manifest([layer(DOCKER_FOREIGN, urls)]))
    assert err.code == "MANIFEST_INVALID"


def test_validation_keys_are_the_references():
    base = {"storage": {"inmemory": {}}}
    config = parse_config({**base, "validation": {"manifests": {"urls": {
        "allow": ["^https?://([^/]+\\.)*example\\.com/"], "deny": ["^https?://www\\.example\\.com/"]}}}})
    assert config.ignored_keys == ()
    assert config.validation == ValidationConfig(
        True, ("^https?://([^/]+\\.)*example\\.com/",), ("^https?://www\\.example\\.com/",))
    assert parse_config(base).validation == ValidationConfig(True, (), ())
    assert not parse_config({**base, "validation": {"disabled": True}}).validation.enabled
    # The deprecated "enabled" wins when true, as in the reference.
    assert parse_config({**base, "validation": {"disabled": True, "enabled": True}}
                        ).validation.enabled
    with pytest.raises(ConfigError) as err:
        parse_config({**base, "validation": {"manifests": {"urls": {"deny": ["(unclosed"]}}}})
    assert err.value.key == "validation.manifests.urls.deny"
