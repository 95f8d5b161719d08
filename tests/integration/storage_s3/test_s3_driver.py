"""The s3 driver's whole contract against moto's standalone S3 server (a real HTTP server
speaking the S3 API), started here on a free port."""

from __future__ import annotations

import io
import os
import time
import uuid

import pytest

from services.registry.metrics import STORAGE_ACTION
from services.registry.storage import PathNotFound, TimedDriver, build_driver
from services.registry.storage.s3 import MiB, S3Driver
from shared.config import S3Config, parse_config
from tests.integration.storage_s3.conftest import BUCKET

pytestmark = pytest.mark.integration

PART = 5 * MiB


def s3config(endpoint: str, root: str) -> S3Config:
    return S3Config(bucket=BUCKET, region="us-east-1", regionendpoint=endpoint,
                    accesskey="test", secretkey="test", rootdirectory=root, secure=False)


@pytest.fixture
def root() -> str:
    return f"t/{uuid.uuid4().hex[:12]}"


@pytest.fixture
def driver(moto_endpoint, root) -> S3Driver:
    return S3Driver(s3config(moto_endpoint, root), part_size=PART)


def raw_keys(driver: S3Driver) -> list[str]:
    out = []
    for page in driver.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET,
                                                                     Prefix=driver.root + "/"):
        out.extend(o["Key"] for o in page.get("Contents", []))
    return sorted(out)


def blob(n: int, seed: int = 0) -> bytes:
    chunk = bytes((i * 7 + seed) % 251 for i in range(4096))
    return (chunk * (n // 4096 + 1))[:n]


def test_put_get_content_under_root(driver, root):
    driver.put_content("/docker/registry/v2/a/link", b"sha256:abc")
    assert driver.get_content("/docker/registry/v2/a/link") == b"sha256:abc"
    assert raw_keys(driver) == [f"{root}/docker/registry/v2/a/link"]
    driver.put_content("/docker/registry/v2/a/link", b"new")
    assert driver.get_content("/docker/registry/v2/a/link") == b"new"
    with pytest.raises(PathNotFound):
        driver.get_content("/docker/registry/v2/missing")
    with pytest.raises(ValueError):
        driver.key("/a/../b")


def test_stat_and_list(driver):
    driver.put_content("/r/a/file1", b"12345")
    driver.put_content("/r/a/sub/file2", b"x")
    driver.put_content("/r/ab", b"sibling sharing a prefix")
    info = driver.stat("/r/a/file1")
    assert (info.size, info.is_dir, info.path) == (5, False, "/r/a/file1")
    assert info.mod_time > time.time() - 300
    assert driver.stat("/r/a").is_dir and driver.stat("/r/a/sub").is_dir
    assert driver.stat("/").is_dir
    for missing in ("/r/a/nope", "/r/a/fil", "/nothing"):
        with pytest.raises(PathNotFound):
            driver.stat(missing)
    assert driver.list("/r/a") == ["/r/a/file1", "/r/a/sub"]
    assert driver.list("/r") == ["/r/a", "/r/ab"]
    assert driver.list("/") == ["/r"]
    with pytest.raises(PathNotFound):
        driver.list("/r/zzz")
    assert driver.exists("/r/ab") and not driver.exists("/r/b")


def test_writer_streams_multipart_holding_one_part(driver):
    data = blob(2 * PART + 123_457)
    w = driver.writer("/up/data")
    for i in range(0, len(data), 300_001):  # odd-sized chunks, as a client sends them
        w.write(data[i:i + 300_001])
        assert len(w._buffer) < PART  # never more than one part held
    w.write(b"")
    assert w.size == len(data)
    w.commit()
    w.close()
    assert driver.get_content("/up/data") == data
    head = driver.s3.head_object(Bucket=BUCKET, Key=driver.key("/up/data"))
    assert head["ETag"].strip('"').endswith("-3")  # three parts: streamed, not buffered whole
    big = driver.writer("/up/big")
    big.write(data)  # one large write goes out part by part from the caller's buffer
    big.close()
    assert driver.stat("/up/big").size == len(data)


def test_append_across_writers_and_drivers(driver, moto_endpoint, root):
    other_replica = S3Driver(s3config(moto_endpoint, root), part_size=PART)
    a, b, c = blob(1000, 1), blob(PART + 10, 2), blob(777, 3)
    with driver.writer("/u/data") as w:
        w.write(a)
    with other_replica.writer("/u/data", append=True) as w:  # another replica continues
        assert w.size == len(a)
        w.write(b)
    assert driver.stat("/u/data").size == len(a) + len(b)
    w = driver.writer("/u/data", append=True)
    assert w.size == len(a) + len(b)
    w.write(c)
    w.commit()
    w.close()
    whole = a + b + c
    assert driver.get_content("/u/data") == whole
    assert other_replica.get_content("/u/data") == whole
    assert driver.stat("/u/data").size == len(whole)
    assert driver.list("/u") == ["/u/data"]  # segments are hidden
    for offset in (0, 1, 999, 1000, 1001, len(a) + len(b), len(whole) - 1, len(whole),
                   len(whole) + 5):
        with driver.reader("/u/data", offset) as r:
            assert r.read() == whole[offset:], offset
    with driver.reader("/u/data", 500) as r:  # small reads across segment boundaries
        got = b"".join(iter(lambda: r.read(333), b""))
    assert got == whole[500:]
    with driver.reader("/u/data") as r:  # seekable, as a local file is
        r.seek(len(a) - 2)
        assert r.read(4) == whole[len(a) - 2:len(a) + 2]
        assert r.tell() == len(a) + 2
        r.seek(-3, os.SEEK_END)
        assert r.read() == whole[-3:]
        r.seek(0)
        assert r.read(5) == whole[:5]

    driver.move("/u/data", "/blobs/sha256/ab/abcd/data")
    assert driver.get_content("/blobs/sha256/ab/abcd/data") == whole
    assert not driver.exists("/u/data")
    assert [k for k in raw_keys(driver) if "/u/" in k] == []
    assert raw_keys(driver) == [driver.key("/blobs/sha256/ab/abcd/data")]
    uploads = driver.s3.list_multipart_uploads(Bucket=BUCKET, Prefix=driver.root)
    assert uploads.get("Uploads", []) == []  # every multipart upload was completed


def test_move_joins_large_segments_server_side(driver):
    parts = [blob(PART + 1, 1), blob(3, 2), blob(PART * 2 + 5, 3), blob(PART - 1, 4)]
    for i, p in enumerate(parts):
        with driver.writer("/u2/data", append=i > 0) as w:
            w.write(p)
    driver.move("/u2/data", "/dest")
    assert driver.get_content("/dest") == b"".join(parts)
    assert driver.stat("/dest").size == sum(map(len, parts))


def test_cancel_abandons_only_the_session(driver):
    with driver.writer("/c/data") as w:
        w.write(b"kept")
    w = driver.writer("/c/data", append=True)
    w.write(blob(PART + 1))  # a part already uploaded, then abandoned
    w.cancel()
    w.close()
    assert driver.get_content("/c/data") == b"kept"
    uploads = driver.s3.list_multipart_uploads(Bucket=BUCKET, Prefix=driver.root)
    assert uploads.get("Uploads", []) == []
    w = driver.writer("/c/new")
    w.write(b"nothing")
    w.cancel()
    assert not driver.exists("/c/new")


def test_empty_files_and_rewrite(driver):
    with driver.writer("/e/empty"):
        pass
    assert driver.stat("/e/empty").size == 0
    assert driver.get_content("/e/empty") == b""
    with driver.reader("/e/empty") as r:
        assert r.read() == b""
    with driver.writer("/e/empty", append=True) as w:  # an empty append adds nothing
        assert w.size == 0
    with driver.writer("/e/empty", append=True) as w:
        w.write(b"abc")
    with driver.writer("/e/empty", append=True) as w:
        w.write(b"def")
    with driver.writer("/e/empty") as w:  # not appending: replaces everything
        w.write(b"fresh")
    assert driver.get_content("/e/empty") == b"fresh"
    assert raw_keys(driver) == [driver.key("/e/empty")]


def test_reader_offset_on_plain_object(driver):
    data = blob(100_000)
    driver.put_content("/p/blob", data)
    with driver.reader("/p/blob", 12_345) as r:
        assert r.read(10) == data[12_345:12_355]
        assert r.read() == data[12_355:]
    with driver.reader("/p/blob", len(data)) as r:
        assert r.read() == b""
    with driver.reader("/p/blob") as r:
        r.seek(50_000)  # a seek before any read restarts the GET there
        assert r.read(100) == data[50_000:50_100]
        r.seek(10, os.SEEK_CUR)
        assert r.read(5) == data[50_110:50_115]
    with pytest.raises(PathNotFound):
        driver.reader("/p/missing")
    with pytest.raises(PathNotFound):
        driver.reader("/p")  # a directory is not a file


def test_move_and_delete(driver):
    driver.put_content("/m/src", b"payload")
    driver.put_content("/m/dst", b"old")
    driver.move("/m/src", "/m/dst")
    assert driver.get_content("/m/dst") == b"payload" and not driver.exists("/m/src")
    with pytest.raises(PathNotFound):
        driver.move("/m/src", "/m/other")

    for p in ("/d/repo/a", "/d/repo/sub/b", "/d/repo/sub/deep/c", "/d/repox/keep"):
        driver.put_content(p, b"x")
    with driver.writer("/d/repo/up", append=True) as w:
        w.write(b"1")
    with driver.writer("/d/repo/up", append=True) as w:
        w.write(b"2")
    driver.delete("/d/repo")
    assert not driver.exists("/d/repo")
    assert driver.get_content("/d/repox/keep") == b"x"  # a prefix sibling survives
    driver.delete("/d/repox/keep")
    with pytest.raises(PathNotFound):
        driver.delete("/d/repox/keep")
    with pytest.raises(PathNotFound):
        driver.delete("/d/never")


def test_walk(driver):
    driver.put_content("/w/a/1", b"1")
    driver.put_content("/w/a/b/2", b"22")
    driver.put_content("/w/c", b"333")
    with driver.writer("/w/a/seg", append=True) as w:
        w.write(b"4444")
    with driver.writer("/w/a/seg", append=True) as w:
        w.write(b"55555")
    found = {i.path: (i.is_dir, i.size) for i in driver.walk("/w")}
    assert found == {"/w/a": (True, 0), "/w/a/1": (False, 1), "/w/a/b": (True, 0),
                     "/w/a/b/2": (False, 2), "/w/a/seg": (False, 9), "/w/c": (False, 3)}
    order = [i.path for i in driver.walk("/w")]
    assert order.index("/w/a") < order.index("/w/a/b") < order.index("/w/a/b/2")
    with pytest.raises(PathNotFound):
        driver.walk("/w/none")
    assert {i.path for i in driver.walk("/")} >= set(found)


def test_metrics_time_each_call(driver):
    # build_driver wraps every driver in TimedDriver; S3 no longer times itself (no double count)
    timed = TimedDriver(driver)
    def count(action: str) -> float:
        for metric in STORAGE_ACTION.collect():
            for sample in metric.samples:
                if (sample.name.endswith("_count") and sample.labels["driver"] == "s3"
                        and sample.labels["action"] == action):
                    return sample.value
        return 0.0

    before = count("PutContent"), count("Stat")
    timed.put_content("/metrics/x", b"1")
    timed.stat("/metrics/x")
    assert (count("PutContent"), count("Stat")) == (before[0] + 1, before[1] + 1)
    driver.stat("/metrics/x")  # the bare driver records nothing itself
    assert count("Stat") == before[1] + 1


def test_built_from_config(moto_endpoint, root):
    host = moto_endpoint.removeprefix("http://")
    config = parse_config({"storage": {"s3": {
        "bucket": BUCKET, "region": "us-east-1", "regionendpoint": host, "secure": False,
        "accesskey": "test", "secretkey": "test", "rootdirectory": f"/{root}/"}}})
    driver = build_driver(config)
    assert isinstance(driver, TimedDriver) and isinstance(driver.inner, S3Driver)
    driver.put_content("/hello", b"world")
    assert driver.s3.get_object(Bucket=BUCKET, Key=f"{root}/hello")["Body"].read() == b"world"


def test_names_and_tags_ending_like_the_segment_marker_are_ordinary(driver):
    """The marker of appended segments is one the name and tag grammar cannot produce: a
    repository ``app.s3parts`` stays in the catalog and garbage collection's list, and tag
    ``v1.s3parts`` is not deleted with ``v1`` (both happened with the marker ``.s3parts``)."""
    from services.registry.domain.catalog import repositories
    from services.registry.domain.registry import Registry
    from services.registry.gc import garbage_collect
    from tests.unit.registry.registry_builders import digest, image_manifest

    reg = Registry(driver)
    config, layer = b'{"architecture":"amd64","os":"linux"}', b"layer bytes"
    body = image_manifest(config, [layer])
    for repo in ("app", "app.s3parts"):
        for data in (config, layer):
            reg.put_blob(repo, digest(data), [data])
        for tag in ("v1", "v1.s3parts"):
            reg.put_manifest(repo, tag, body, "application/vnd.oci.image.manifest.v1+json")
    assert list(repositories(driver)) == ["app", "app.s3parts"]
    assert reg.catalog() == (["app", "app.s3parts"], False)
    assert reg.list_tags("app") == (["v1", "v1.s3parts"], False)
    reg.delete_tag("app", "v1")
    assert reg.list_tags("app") == (["v1.s3parts"], False)
    assert reg.get_manifest("app", "v1.s3parts").content == body
    # Garbage collection walks both repositories.
    out = io.StringIO()
    garbage_collect(parse_config({"storage": {"inmemory": {}}}), dry_run=True, out=out,
                    driver=driver)
    assert f"app.s3parts: marking manifest {digest(body)}" in out.getvalue(), out.getvalue()
    assert "blob eligible" not in out.getvalue() and "manifest eligible" not in out.getvalue()
    # An upload's data file, appended to, is still one file among its folder's files.
    status = reg.start_upload("app.s3parts")
    reg.append_upload("app.s3parts", status.uuid, [b"12345"])
    reg.append_upload("app.s3parts", status.uuid, [b"678"])
    assert reg.upload_status("app.s3parts", status.uuid).offset == 8
