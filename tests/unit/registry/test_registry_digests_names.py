"""Digests and names: the spec's grammar, sha256 and sha512, and the errors bad input gets."""

import hashlib

import pytest

from services.registry.domain.digests import digest_bytes, parse_digest
from services.registry.domain.errors import RegistryError
from services.registry.domain.names import check_name, check_tag, is_name, is_tag

SHA256 = "sha256:" + "a" * 64
SHA512 = "sha512:" + "b" * 128


def test_sha256_and_sha512_digests_are_accepted():
    assert parse_digest(SHA256) == SHA256
    assert parse_digest(SHA512) == SHA512


@pytest.mark.parametrize("bad", [
    None, "", "sha256", "sha256:", "sha256:abc", "sha256:" + "A" * 64, "sha256:" + "g" * 64,
    "sha512:" + "a" * 64, "md5:" + "a" * 32, "sha256:" + "a" * 65, "../etc/passwd",
    SHA256 + "\n", "sha256:\n" + "a" * 64,
])
def test_malformed_digests_are_digest_invalid_400(bad):
    with pytest.raises(RegistryError) as err:
        parse_digest(bad)
    assert err.value.code == "DIGEST_INVALID"
    assert err.value.status == 400


def test_digest_bytes_matches_hashlib():
    data = b"some content"
    assert digest_bytes(data) == "sha256:" + hashlib.sha256(data).hexdigest()
    assert digest_bytes(data, "sha512") == "sha512:" + hashlib.sha512(data).hexdigest()


@pytest.mark.parametrize("name", ["a", "library/ubuntu", "a-b/c.d/e__f", "x0/y--z", "a" * 255])
def test_valid_names(name):
    assert is_name(name)
    assert check_name(name) == name


@pytest.mark.parametrize("name", [
    "", "Upper", "a/../b", "../x", "a//b", "-a", "a-", "a_", ".a", "a/", "/a", "a" * 256,
    "a b", "a/b/_manifests", "a\n", "a/b\n", "a\nb",
])
def test_invalid_names_are_name_invalid(name):
    assert not is_name(name)
    with pytest.raises(RegistryError) as err:
        check_name(name)
    assert err.value.code == "NAME_INVALID"
    assert err.value.status == 400


@pytest.mark.parametrize("tag", ["latest", "v1.2.3", "_x", "A-b_c.d", "a" * 128])
def test_valid_tags(tag):
    assert is_tag(tag)
    assert check_tag(tag) == tag


@pytest.mark.parametrize("tag", ["", "-x", ".x", "a" * 129, "a/b", "a:b", "v2\n", "v2\r\n"])
def test_invalid_tags(tag):
    assert not is_tag(tag)
    with pytest.raises(RegistryError) as err:
        check_tag(tag)
    assert err.value.status == 400


def test_a_trailing_newline_is_not_a_digest():
    from services.registry.domain.digests import is_digest

    assert is_digest(SHA256)
    assert not is_digest(SHA256 + "\n")
