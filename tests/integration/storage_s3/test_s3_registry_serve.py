"""`registry serve` on S3 storage (moto's server), with the Redis blob descriptor cache and
htpasswd auth: a chunked push and a pull over the real HTTP API, and nothing left behind."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urljoin

import bcrypt
import boto3
import pytest
import redis
import requests

from services.registry.storage.s3 import SEGMENTS, MiB
from tests.conftest import free_port, port_open
from tests.integration.storage_s3.conftest import BUCKET

pytestmark = pytest.mark.integration

REDIS_DB = 11


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def served(tmp_path, moto_endpoint, redis_addr):
    root = f"serve-{uuid.uuid4().hex[:8]}"
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text("alice:" + bcrypt.hashpw(b"pw", bcrypt.gensalt(4)).decode() + "\n")
    host, redis_port = redis_addr.rsplit(":", 1)
    # The cache describes one storage; this test's storage is new, so its cache starts empty.
    redis.Redis(host=host, port=int(redis_port), db=REDIS_DB).flushdb()
    port = free_port()
    config = {
        "version": "0.1",
        "http": {"addr": f"127.0.0.1:{port}"},
        "storage": {"s3": {"bucket": BUCKET, "region": "us-east-1",
                           "regionendpoint": moto_endpoint, "accesskey": "test",
                           "secretkey": "test", "rootdirectory": f"/{root}", "secure": False},
                    "cache": {"blobdescriptor": "redis"}},
        "redis": {"addr": redis_addr, "db": REDIS_DB},
        "auth": {"htpasswd": {"realm": "s3-test", "path": str(htpasswd)}},
    }
    (tmp_path / "config.yml").write_text(json.dumps(config))
    script = Path(sys.executable).with_name("registry")
    command = [str(script)] if script.exists() else [
        sys.executable, "-c", "from services.cli import main; raise SystemExit(main())"]
    log = (tmp_path / "registry.log").open("w")
    proc = subprocess.Popen([*command, "serve", str(tmp_path / "config.yml")], stdout=log,
                            stderr=subprocess.STDOUT, cwd=Path(__file__).parents[3])
    deadline = time.monotonic() + 30
    while not port_open("127.0.0.1", port):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("registry serve did not start:\n" + (tmp_path / "registry.log").read_text())
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}", root
    proc.terminate()
    proc.wait(15)
    redis.Redis(host=host, port=int(redis_port), db=REDIS_DB).flushdb()  # the machine's Redis


def test_chunked_push_and_pull_on_s3(served, moto_endpoint, redis_addr):
    base, root = served
    http = requests.Session()
    refused = http.get(f"{base}/v2/")
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == 'Basic realm="s3-test"'
    http.auth = ("alice", "pw")
    assert http.get(f"{base}/v2/").status_code == 200

    layer = bytes(range(256)) * (12 * MiB // 256) + b"tail"
    started = http.post(f"{base}/v2/s3/app/blobs/uploads/")
    assert started.status_code == 202
    location = urljoin(base, started.headers["Location"])
    offset = 0
    for size in (5 * MiB, 5 * MiB, len(layer) - 10 * MiB):  # three PATCHes: three segments
        chunk = layer[offset:offset + size]
        r = http.patch(location, data=chunk, headers={
            "Content-Type": "application/octet-stream",
            "Content-Range": f"{offset}-{offset + size - 1}"})
        assert r.status_code == 202, r.text
        offset += size
        assert r.headers["Range"] == f"0-{offset - 1}"
        location = urljoin(base, r.headers["Location"])
    done = http.put(location, params={"digest": sha(layer)})
    assert done.status_code == 201, done.text

    config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
    r = http.post(f"{base}/v2/s3/app/blobs/uploads/", params={"digest": sha(config)},
                  data=config, headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 201, r.text
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": sha(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": sha(layer), "size": len(layer)}]}).encode()
    r = http.put(f"{base}/v2/s3/app/manifests/v1", data=manifest,
                 headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    assert r.status_code == 201, r.text

    got = http.get(f"{base}/v2/s3/app/manifests/v1",
                   headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    assert got.status_code == 200 and got.content == manifest
    pulled = http.get(f"{base}/v2/s3/app/blobs/{sha(layer)}")
    assert pulled.status_code == 200 and pulled.content == layer
    ranged = http.get(f"{base}/v2/s3/app/blobs/{sha(layer)}",
                      headers={"Range": f"bytes={5 * MiB - 2}-{5 * MiB + 1}"})
    assert ranged.status_code == 206 and ranged.content == layer[5 * MiB - 2:5 * MiB + 2]

    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
    keys = {o["Key"]: o["Size"] for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=BUCKET, Prefix=root + "/") for o in page.get("Contents", [])}
    hexdigest = sha(layer).split(":")[1]
    blob_key = f"{root}/docker/registry/v2/blobs/sha256/{hexdigest[:2]}/{hexdigest}/data"
    assert keys[blob_key] == len(layer)  # the reference's layout, one object per blob
    assert [k for k in keys if "/_uploads/" in k or SEGMENTS in k] == []
    assert s3.list_multipart_uploads(Bucket=BUCKET, Prefix=root).get("Uploads", []) == []

    host, port = redis_addr.rsplit(":", 1)
    cached = redis.Redis(host=host, port=int(port), db=REDIS_DB)
    assert cached.hget(f"blobs::{sha(layer)}", "size") == str(len(layer)).encode()
    cached.close()
