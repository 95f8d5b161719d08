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


def test_an_unexpected_error_leaves_its_text_in_the_log_only(tmp_path, caplog):
    """An OSError names files under the storage root: the client gets UNKNOWN and nothing
    else, the log gets the details."""
    from falcon import testing

    from services.registry.http import create_app
    from services.registry.storage.inmemory import InMemoryDriver
    from shared.config import parse_config
    from shared.events import RecordingSink

    secret_path = "/var/lib/registry/docker/registry/v2/secret-place"

    class BrokenDriver(InMemoryDriver):
        def get_content(self, path):
            raise PermissionError(13, "Permission denied", secret_path)

    config = parse_config({"storage": {"inmemory": {}}})
    client = testing.TestClient(create_app(config, sink=RecordingSink(), driver=BrokenDriver()))
    with caplog.at_level("ERROR"):
        r = client.simulate_get("/v2/repo/manifests/latest")
    assert r.status_code == 500
    assert r.json == {"errors": [{"code": "UNKNOWN", "message": "unknown error"}]}
    assert secret_path not in r.text and "Permission" not in r.text
    assert any(secret_path in rec.getMessage() or (rec.exc_info and secret_path in str(rec.exc_info[1]))
               for rec in caplog.records)
