"""Metric labels never take a value a client invents: a real ``registry serve`` is sent
requests with made-up methods, and its ``/metrics`` page must not grow a series per method."""

from __future__ import annotations

import re

import requests

from tests.integration.registry.registry_procs import ServeProcess


def test_invented_methods_are_counted_as_other(tmp_path):
    proc = ServeProcess(tmp_path / "root", tmp_path, "labels").start()
    try:
        paths = ["/v2/", "/v2/some/repo/tags/list", "/v2/some/repo/manifests/v1", "/nowhere"]
        invented = ["XQZONE", "XQZONE2", "get", "PROPFIND"]
        for method in invented:
            for path in paths:
                requests.request(method, f"{proc.url}{path}", timeout=10)
        requests.get(f"{proc.url}/v2/", timeout=10)
        page = requests.get(f"http://127.0.0.1:{proc.debug_port}/metrics", timeout=10).text
    finally:
        proc.kill()
    methods = set(re.findall(r'method="([^"]*)"', page))
    assert methods <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}, methods
    assert "other" in methods and "GET" in methods
    # Every label value a request could reach is from a fixed set: the route names, "unknown"
    # for a path that is no route, and status codes.
    handlers = set(re.findall(r'handler="([^"]*)"', page))
    assert handlers <= {"base", "catalog", "tags", "manifest", "blob_upload_chunk",
                        "blob_upload", "blob", "referrers", "unknown"}, handlers
    requests_total = [line for line in page.splitlines()
                      if line.startswith("registry_http_requests_total{")]
    assert any('method="other"' in line for line in requests_total), requests_total
