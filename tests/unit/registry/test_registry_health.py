"""Readiness checks: answers cached for a while, a hung check bounded, failures reported."""

from __future__ import annotations

import threading
import time

from services.registry.health import CachedCheck, Readiness, storage_probe
from services.registry.storage import build_driver
from shared.config import parse_config


def test_answers_are_cached_for_the_ttl():
    calls = []
    check = CachedCheck(lambda: calls.append(1) or None, ttl=0.3)
    assert check() is None and check() is None
    assert len(calls) == 1
    time.sleep(0.35)
    assert check() is None and len(calls) == 2


def test_a_failing_check_names_the_error():
    def probe() -> None:
        raise ConnectionRefusedError(111, "Connection refused")

    assert "ConnectionRefusedError" in CachedCheck(probe, ttl=0)()


def test_a_hung_check_is_reported_and_not_started_twice():
    release = threading.Event()
    started = []

    def probe() -> None:
        started.append(1)
        release.wait(5)

    check = CachedCheck(probe, ttl=0, timeout=0.2)
    t0 = time.monotonic()
    assert check() == "no answer within 0.2s"
    assert check() == "no answer within 0.2s"
    assert time.monotonic() - t0 < 1.5 and len(started) == 1  # the hung one is waited on again
    release.set()
    time.sleep(0.05)
    assert check() is None


def test_storage_root_must_be_a_directory(tmp_path):
    root = tmp_path / "root"
    driver = build_driver(parse_config({"storage": {"filesystem": {"rootdirectory": str(root)}}}))
    assert storage_probe(driver)() is None
    root.rmdir()
    root.write_text("x")
    assert storage_probe(driver)() == "storage root is not a directory"


def test_readiness_reports_each_check(tmp_path):
    config = parse_config({"storage": {"filesystem": {"rootdirectory": str(tmp_path)}}})
    ready, report = Readiness(config).check()
    assert ready and report == {"status": "ready", "checks": {
        "storage": "ok", "broker": "not used (no notification endpoints)"}}
