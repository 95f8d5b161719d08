"""The ``notification sent`` line: one per delivery, written whole straight to the log's
descriptor where the log is one plain stream (``shared.direct_lines``), else through logging."""

from __future__ import annotations

import io
import logging
import threading

import pytest

from services.notifier import report
from services.notifier.outcomes import Delivered, Delivery
from services.notifier.report import ReportSink
from shared.direct_lines import DirectLines
from shared.logfmt import KeyValueFormatter


class Answering:
    def deliver(self, delivery: Delivery) -> Delivered:
        return Delivered(202)


def delivery(repository: str) -> Delivery:
    return Delivery({"id": "e", "action": "push", "target": {"repository": repository}},
                    "manifest.push")


@pytest.fixture
def notifier_log(monkeypatch):
    """The notifier's logger with one handler of its own, at info, on the stream given."""
    before = report.log.level

    def attach(stream, level: int = logging.INFO) -> None:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(KeyValueFormatter({"service": "notifier"}))
        monkeypatch.setattr(report.log, "handlers", [handler])
        monkeypatch.setattr(report.log, "propagate", False)
        report.log.setLevel(level)

    yield attach
    report.log.setLevel(before)


def test_lines_from_eight_delivery_threads_arrive_whole(tmp_path, notifier_log):
    path = tmp_path / "notifier.log"
    with open(path, "w") as stream:
        notifier_log(stream)
        sink = ReportSink("hook", Answering())
        assert sink._direct is not None and sink._direct.fd == stream.fileno()
        names = [f"team/app-{i}" for i in range(8)]

        def deliver(repository: str) -> None:
            for _ in range(200):
                sink.deliver(delivery(repository))

        threads = [threading.Thread(target=deliver, args=(n,)) for n in names]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    lines = path.read_text().splitlines()
    assert len(lines) == 200 * len(names)
    for line in lines:
        head, _, rest = line.partition(" INFO notification sent endpoint=hook repository=")
        assert head.endswith("Z") and rest.endswith(" action=push service=notifier"), line
        assert rest.split(" ", 1)[0] in names


def test_a_log_that_is_no_descriptor_gets_the_line_through_logging(notifier_log):
    stream = io.StringIO()
    notifier_log(stream)
    sink = ReportSink("hook", Answering())
    assert sink._direct is None
    sink.deliver(delivery('odd "name"'))
    assert 'notification sent endpoint=hook repository="odd \\"name\\"" action=push' \
        in stream.getvalue()


def test_no_line_below_the_configured_level(tmp_path, notifier_log):
    path = tmp_path / "notifier.log"
    with open(path, "w") as stream:
        notifier_log(stream, logging.WARNING)
        ReportSink("hook", Answering()).deliver(delivery("a/b"))
    assert path.read_text() == ""


def test_the_handler_an_ancestor_holds_is_found_and_a_second_one_means_logging(tmp_path):
    parent, child = logging.getLogger("direct-test"), logging.getLogger("direct-test.child")
    with open(tmp_path / "a.log", "w") as stream:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(KeyValueFormatter())
        parent.addHandler(handler)
        parent.propagate = False
        try:
            found = DirectLines.of(child)
            assert found is not None and found.fd == stream.fileno()
            child.addHandler(logging.StreamHandler(io.StringIO()))
            assert DirectLines.of(child) is None
        finally:
            parent.handlers.clear()
            child.handlers.clear()


def test_a_handler_with_a_level_above_info_means_logging(tmp_path):
    logger = logging.getLogger("direct-test-level")
    with open(tmp_path / "a.log", "w") as stream:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(KeyValueFormatter())
        handler.setLevel(logging.WARNING)
        logger.addHandler(handler)
        logger.propagate = False
        try:
            assert DirectLines.of(logger) is None
        finally:
            logger.handlers.clear()
