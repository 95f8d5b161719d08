"""gunicorn's workers each count their own requests; a scrape must add them all up, and keep a
dead worker's counts (counters never go down) while dropping its live gauges."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client.mmap_dict import MmapedDict

from tests.integration.metrics.live import Process, serve_config, sha256, value

pytestmark = pytest.mark.integration

BATCH = 100


def per_worker_requests(folder: Path) -> dict[int, float]:
    """registry_http_requests_total as each process wrote it: what one worker alone would show."""
    shares: dict[int, float] = {}
    for path in folder.glob("counter_*.db"):
        pid = int(path.stem.split("_")[1])
        for key, val, _, _ in MmapedDict.read_all_values_from_file(str(path)):
            if '"registry_http_requests_total"' in key and '"handler": "base"' in key:
                shares[pid] = shares.get(pid, 0.0) + val
    return {pid: n for pid, n in shares.items() if n}


def get_base(url: str) -> int:
    # A new connection each time, so gunicorn's workers race to accept them.
    return requests.get(f"{url}/v2/", timeout=10, headers={"Connection": "close"}).status_code


@pytest.fixture(scope="module")
def serve(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("workers")
    folder = tmp / "prom"
    folder.mkdir()
    config = serve_config(tmp / "root", http={"workers": 2, "threads": 4})
    proc = Process("serve", config, tmp, "serve", env={"PROMETHEUS_MULTIPROC_DIR": str(folder)})
    proc.start()
    proc.folder = folder  # type: ignore[attr-defined]
    yield proc
    proc.stop()


def test_scrape_sums_every_worker_and_keeps_a_dead_workers_counts(serve):
    # Which worker accepts a connection is up to the kernel: drive batches until both have
    # served some (the second may still be booting at first).
    sent = 0
    with ThreadPoolExecutor(16) as pool:
        while len(per_worker_requests(serve.folder)) < 2 and sent < 20 * BATCH:
            assert set(pool.map(lambda _: get_base(serve.url), range(BATCH))) == {200}
            sent += BATCH
    shares = per_worker_requests(serve.folder)
    # Both workers served (each alone would show only its share) and the scrape adds them up;
    # the startup probe's GET /v2/ counts too.
    assert len(shares) == 2 and all(0 < n < sent for n in shares.values()), shares
    first = value(serve.scrape(), "registry_http_requests_total", handler="base")
    assert first == sent + 1 == sum(shares.values())

    # A worker dies: gunicorn replaces it; its requests still count, its live gauges go.
    dead = max(shares, key=shares.get)
    os.kill(dead, signal.SIGKILL)
    deadline = time.monotonic() + 15
    while (serve.folder / f"gauge_livesum_{dead}.db").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not (serve.folder / f"gauge_livesum_{dead}.db").exists()  # marked dead by child_exit
    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(lambda _: get_base(serve.url), range(20))) == {200}
    text = serve.scrape()
    assert value(text, "registry_http_requests_total", handler="base") == first + 20
    assert value(text, "registry_http_in_flight_requests") == 0


def test_bytes_in_and_out_are_counted_for_streamed_uploads_and_sendfile_downloads(serve):
    data = os.urandom(3 * 1024 * 1024 + 17)
    digest = sha256(data)
    r = requests.post(f"{serve.url}/v2/bytes/blobs/uploads/", timeout=10)
    assert r.status_code == 202
    location = r.headers["Location"]
    location = location if location.startswith("http") else serve.url + location

    def chunks():
        for i in range(0, len(data), 1 << 20):
            yield data[i:i + (1 << 20)]

    # A generator body goes out with Transfer-Encoding: chunked: no Content-Length to read.
    r = requests.patch(location, data=chunks(), timeout=30)
    assert r.status_code == 202, r.text
    location = r.headers["Location"]
    location = location if location.startswith("http") else serve.url + location
    r = requests.put(location, params={"digest": digest}, timeout=30)
    assert r.status_code == 201, r.text

    # Served with sendfile by gunicorn (the body never passes through Python), then a range.
    assert requests.get(f"{serve.url}/v2/bytes/blobs/{digest}", timeout=30).content == data
    r = requests.get(f"{serve.url}/v2/bytes/blobs/{digest}", headers={"Range": "bytes=10-109"},
                     timeout=30)
    assert r.status_code == 206 and r.content == data[10:110]
    assert requests.head(f"{serve.url}/v2/bytes/blobs/{digest}", timeout=10).status_code == 200

    text = serve.scrape()
    assert value(text, "registry_http_request_size_bytes_sum", handler="blob_upload_chunk") == len(data)
    assert value(text, "registry_http_response_size_bytes_sum", handler="blob") == len(data) + 100
    # the 3 MiB upload lands in the 16 MiB bucket, not in the 1 MiB one
    assert value(text, "registry_http_request_size_bytes_bucket", handler="blob_upload_chunk",
                 le="1048576.0") == 0
