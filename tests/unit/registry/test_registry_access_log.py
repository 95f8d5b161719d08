"""The access log line: built from its seven values, formatted by the configured formatter and
written whole with one write to the log's descriptor (a long one under the handler's lock), or
through ``logging`` where the log is no stream with a descriptor."""

from __future__ import annotations

import datetime
import io
import json
import os
import threading
from unittest import mock

from gunicorn.config import Config as GunicornConfig

from services.registry.access_log import gunicorn_logger_class
from shared.config import Config, LogConfig


class Response:
    status = "201 Created"
    sent = 0


def environ(useragent: str) -> dict:
    return {"REQUEST_METHOD": "PUT", "PATH_INFO": "/v2/a/manifests/v1", "REMOTE_ADDR": "10.0.0.1",
            "HTTP_USER_AGENT": useragent}


def access_logger(stream, formatter: str = "text"):
    """gunicorn's logger as ``registry serve`` sets it up, its access log ("-") on ``stream``
    (gunicorn's standard output)."""
    cfg = GunicornConfig()
    cfg.set("accesslog", "-")
    cfg.set("errorlog", "-")
    config = Config(log=LogConfig(formatter=formatter, fields={"service": "registry"}))
    with mock.patch("sys.stdout", stream):
        return gunicorn_logger_class(config)(cfg)


def test_lines_from_many_threads_arrive_whole_short_and_long(tmp_path):
    path = tmp_path / "access.log"
    with open(path, "w") as stream:
        logger = access_logger(stream)
        assert logger._direct is not None and logger._direct.fd == stream.fileno()
        agents = [f"agent-{i}" for i in range(8)] + ["x" * 20000]  # past PIPE_BUF

        def log(agent: str) -> None:
            for _ in range(50):
                logger.access(Response, None, environ(agent), datetime.timedelta(milliseconds=3))

        threads = [threading.Thread(target=log, args=(a,)) for a in agents]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    lines = path.read_text().splitlines()
    assert len(lines) == 50 * len(agents)
    for line in lines:
        assert " INFO http request method=PUT path=/v2/a/manifests/v1 status=201 bytes=0 " \
               "duration_ms=3 addr=10.0.0.1 useragent=" in line, line[:200]
        assert line.endswith(" service=registry")
        agent = line.split(" useragent=", 1)[1].split(" ", 1)[0]
        assert agent in agents


def test_the_json_formatter_makes_json_lines(tmp_path):
    path = tmp_path / "access.log"
    with open(path, "w") as stream:
        access_logger(stream, "json").access(Response, None, environ("ua"),
                                             datetime.timedelta(milliseconds=1))
    doc = json.loads(path.read_text())
    assert doc["level"] == "info" and doc["service"] == "registry"
    assert doc["msg"].startswith("http request method=PUT path=/v2/a/manifests/v1 status=201 ")


def test_a_stream_without_a_descriptor_goes_through_logging():
    stream = io.StringIO()
    logger = access_logger(stream)
    assert logger._direct is None
    logger.access(Response, None, environ('a "quoted" agent'), datetime.timedelta(0))
    assert 'useragent="a \\"quoted\\" agent" service=registry' in stream.getvalue()
    assert os.linesep in stream.getvalue()
