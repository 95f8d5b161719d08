"""Error codes map to the spec's status and JSON shape."""

import pytest

from services.registry.domain.errors import RegistryError


@pytest.mark.parametrize("code,status", [
    ("BLOB_UNKNOWN", 404), ("BLOB_UPLOAD_INVALID", 400), ("BLOB_UPLOAD_UNKNOWN", 404),
    ("DIGEST_INVALID", 400), ("MANIFEST_BLOB_UNKNOWN", 400), ("MANIFEST_INVALID", 400),
    ("MANIFEST_UNKNOWN", 404), ("NAME_INVALID", 400), ("NAME_UNKNOWN", 404),
    ("SIZE_INVALID", 400), ("UNAUTHORIZED", 401), ("DENIED", 403), ("UNSUPPORTED", 405),
    ("TOO_MANY_REQUESTS", 429),
])
def test_codes_have_the_spec_status(code, status):
    err = RegistryError(code)
    assert err.status == status
    assert err.to_dict()["code"] == code
    assert err.to_dict()["message"]


def test_detail_is_included_only_when_given():
    assert "detail" not in RegistryError("BLOB_UNKNOWN").to_dict()
    assert RegistryError("BLOB_UNKNOWN", detail={"digest": "x"}).to_dict()["detail"] == {"digest": "x"}


def test_oversize_manifest_is_413_with_a_spec_code():
    err = RegistryError("MANIFEST_TOO_LARGE", status=413)
    assert err.status == 413
    assert err.to_dict()["code"] == "SIZE_INVALID"
