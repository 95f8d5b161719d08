"""Uploads: state kept in storage, chunk order checked, digests verified, atomic commits."""

import pytest

from services.registry.cache import InMemoryBlobDescriptorCache
from services.registry.domain import layout
from services.registry.domain.descriptors import Descriptor
from services.registry.domain.errors import RegistryError
from services.registry.domain.registry import Registry
from services.registry.domain.uploads import RangeError
from services.registry.storage.filesystem import FilesystemDriver
from services.registry.storage.inmemory import InMemoryDriver
from tests.unit.registry.registry_builders import digest


@pytest.fixture(params=["filesystem", "inmemory"])
def driver(request, tmp_path):
    return FilesystemDriver(str(tmp_path)) if request.param == "filesystem" else InMemoryDriver()


def test_chunked_upload_continues_in_another_registry_instance(driver):
    # Two Registry objects on one storage stand for two processes: no shared memory.
    first, second = Registry(driver), Registry(driver)
    data = b"a" * 1000 + b"b" * 500
    status = first.start_upload("r/x")
    assert status.offset == 0
    status = first.append_upload("r/x", status.uuid, [data[:1000]], 0, 999, 1000)
    assert second.upload_status("r/x", status.uuid).offset == 1000
    desc = second.finish_upload("r/x", status.uuid, digest(data), [data[1000:]], 500)
    assert (desc.digest, desc.size) == (digest(data), 1500)
    with first.open_blob("r/x", desc.digest)[1] as f:
        assert f.read() == data
    assert not driver.exists(layout.upload_dir("r/x", status.uuid))


def test_out_of_order_chunk_is_416_and_leaves_the_upload_as_it_was(driver):
    reg = Registry(driver)
    status = reg.start_upload("r")
    reg.append_upload("r", status.uuid, [b"12345"], 0, 4, 5)
    for start, end in ((3, 7), (10, 14), (0, 4)):
        with pytest.raises(RangeError) as err:
            reg.append_upload("r", status.uuid, [b"67890"], start, end, 5)
        assert err.value.status == 416
        assert err.value.upload.offset == 5
    assert reg.upload_status("r", status.uuid).offset == 5


def test_closing_chunk_out_of_order_is_416_and_keeps_the_session(driver):
    """The final PUT's Content-Range must continue the upload as a PATCH's must."""
    reg = Registry(driver)
    status = reg.start_upload("r")
    reg.append_upload("r", status.uuid, [b"12345"], 0, 4, 5)
    for start, end in ((10, 14), (3, 7), (0, 4)):
        with pytest.raises(RangeError) as err:
            reg.finish_upload("r", status.uuid, digest(b"1234567890"), [b"67890"], 5,
                              start=start, end=end)
        assert err.value.status == 416
        assert err.value.upload.offset == 5
    assert reg.upload_status("r", status.uuid).offset == 5
    desc = reg.finish_upload("r", status.uuid, digest(b"1234567890"), [b"67890"], 5,
                             start=5, end=9)
    assert desc.size == 10


def test_truncated_chunk_is_rolled_back(driver):
    reg = Registry(driver)
    status = reg.start_upload("r")
    reg.append_upload("r", status.uuid, [b"12345"])
    with pytest.raises(RegistryError) as err:
        reg.append_upload("r", status.uuid, [b"678"], length=5)
    assert err.value.code == "SIZE_INVALID"
    assert reg.upload_status("r", status.uuid).offset == 5


def test_wrong_digest_cancels_the_upload_and_leaves_no_blob(driver):
    reg = Registry(driver)
    status = reg.start_upload("r")
    wrong = digest(b"something else")
    with pytest.raises(RegistryError) as err:
        reg.finish_upload("r", status.uuid, wrong, [b"content"])
    assert err.value.code == "DIGEST_INVALID"
    assert not driver.exists(layout.blob_data(wrong))
    assert not driver.exists(layout.blob_data(digest(b"content")))
    with pytest.raises(RegistryError) as err:
        reg.upload_status("r", status.uuid)
    assert err.value.code == "BLOB_UPLOAD_UNKNOWN"


def test_monolithic_upload_streams_and_verifies(driver):
    reg = Registry(driver)
    chunks = [b"x" * 1024] * 10
    desc = reg.put_blob("r", digest(b"x" * 10240), iter(chunks), 10240)
    assert desc.size == 10240
    assert reg.stat_blob("r", desc.digest) == desc
    with pytest.raises(RegistryError) as err:
        reg.put_blob("r", digest(b"nope"), [b"yes"], 3)
    assert err.value.code == "DIGEST_INVALID"
    assert not driver.exists(layout.blob_data(digest(b"yes")))
    # Nothing of either attempt stays in the upload area.
    assert not driver.exists(layout.uploads("r")) or driver.list(layout.uploads("r")) == []


def test_interrupted_monolithic_upload_leaves_nothing(driver):
    reg = Registry(driver)

    def broken():
        yield b"partial"
        raise ConnectionError("client went away")

    with pytest.raises(ConnectionError):
        reg.put_blob("r", digest(b"partial and more"), broken(), 100)
    assert not driver.exists(layout.blob_data(digest(b"partial")))
    assert not driver.exists(layout.uploads("r")) or driver.list(layout.uploads("r")) == []


def test_sha512_uploads(driver):
    reg = Registry(driver)
    data = b"sha512 content"
    status = reg.start_upload("r")
    reg.append_upload("r", status.uuid, [data])
    desc = reg.finish_upload("r", status.uuid, digest(data, "sha512"), [])
    assert desc.digest.startswith("sha512:")
    assert driver.get_content(layout.blob_data(desc.digest)) == data


def test_unknown_and_malformed_upload_ids(driver):
    reg = Registry(driver)
    for upload_id in ("not-a-uuid", "../../x", "3f1e0d1c-8a32-4c5e-9b1a-2d6f3e4a5b6c"):
        with pytest.raises(RegistryError) as err:
            reg.upload_status("r", upload_id)
        assert err.value.code == "BLOB_UPLOAD_UNKNOWN"


def test_cancel_removes_the_session(driver):
    reg = Registry(driver)
    status = reg.start_upload("r")
    reg.append_upload("r", status.uuid, [b"abc"])
    reg.cancel_upload("r", status.uuid)
    assert not driver.exists(layout.upload_dir("r", status.uuid))


def test_mount_links_only_existing_blobs(driver):
    reg = Registry(driver)
    desc = reg.put_blob("src", digest(b"shared"), [b"shared"])
    assert reg.mount_blob("dst", desc.digest, "src") == desc
    assert reg.stat_blob("dst", desc.digest) == desc
    assert reg.mount_blob("dst", digest(b"missing"), "src") is None
    assert reg.mount_blob("dst", desc.digest, "Bad/Name") is None


def test_purge_removes_only_old_upload_sessions(driver):
    import time

    from services.registry.domain.purge import purge_uploads

    reg = Registry(driver)
    old = reg.start_upload("a/b")
    driver.put_content(layout.upload_startedat("a/b", old.uuid), b"2020-01-01T00:00:00Z")
    fresh = reg.start_upload("c")
    assert purge_uploads(driver, 3600, dry_run=True) == [layout.upload_dir("a/b", old.uuid)]
    assert driver.exists(layout.upload_dir("a/b", old.uuid))
    purged = purge_uploads(driver, 3600, now=time.time())
    assert purged == [layout.upload_dir("a/b", old.uuid)]
    assert not driver.exists(layout.upload_dir("a/b", old.uuid))
    assert reg.upload_status("c", fresh.uuid).offset == 0


def test_purge_leaves_an_old_session_a_request_is_writing_to(driver):
    from services.registry.domain.purge import purge_uploads

    reg = Registry(driver)
    busy = reg.start_upload("a")
    upload_dir = layout.upload_dir("a", busy.uuid)
    driver.put_content(layout.upload_startedat("a", busy.uuid), b"2020-01-01T00:00:00Z")
    with driver.exclusive(upload_dir):
        assert purge_uploads(driver, 3600) == []
    assert driver.exists(upload_dir)
    assert purge_uploads(driver, 3600) == [upload_dir]


def test_chunk_shorter_than_its_content_range_is_rolled_back(driver):
    reg = Registry(driver)
    status = reg.start_upload("r")
    with pytest.raises(RegistryError) as err:
        reg.append_upload("r", status.uuid, [b"123"], 0, 9, None)
    assert err.value.code == "SIZE_INVALID"
    assert reg.upload_status("r", status.uuid).offset == 0


@pytest.mark.parametrize("finish", ["monolithic", "chunked"])
def test_stale_cache_entry_does_not_lose_the_upload(driver, finish):
    # The cache believes the blob exists (a garbage-collected blob, or a Redis shared with
    # another storage) while storage has no such blob: the commit must still store the bytes.
    data = b"bytes the cache wrongly thinks are stored"
    cache = InMemoryBlobDescriptorCache()
    cache.set(Descriptor(digest(data), len(data), "application/octet-stream"))
    reg = Registry(driver, cache)
    if finish == "monolithic":
        desc = reg.put_blob("r", digest(data), [data], len(data))
    else:
        status = reg.start_upload("r")
        desc = reg.finish_upload("r", status.uuid, digest(data), [data], len(data))
    assert driver.get_content(layout.blob_data(desc.digest)) == data
    with reg.open_blob("r", desc.digest)[1] as f:
        assert f.read() == data
