"""Connecting to a broker of several nodes (shared.broker.connect): each node in turn, from the
one that answered last; bounded on the publish path. The nodes here are real sockets: the
machine's RabbitMQ, a port nothing listens on (refused at once), and a listener that accepts
and never speaks AMQP (a node that hangs: the connect timeout is what ends the wait)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from shared.broker import PUBLISH_CONNECT_TIMEOUT, connect, connected
from tests.integration.notifications.support import Deployment, endpoint, free_port, make_event

pytestmark = pytest.mark.integration


@pytest.fixture
def silent_node() -> Iterator[str]:
    """An AMQP URL whose port accepts connections (the kernel does) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"amqp://guest:guest@127.0.0.1:{listener.getsockname()[1]}//"


def test_connect_goes_on_to_the_next_node_and_starts_there_next_time(
        rabbitmq_url, silent_node, tmp_path):
    refused = f"amqp://guest:guest@127.0.0.1:{free_port()}//"
    # Nothing is declared: connecting is all this does on the machine's broker.
    d = Deployment(tmp_path / "d", [silent_node, refused, rabbitmq_url],
                   [endpoint("failover", "http://x/")])
    config = d.config
    started = time.monotonic()
    with connected(config, purpose="publish") as connection:
        assert connection.connection.sock.getpeername()[1] == 5672
    first = time.monotonic() - started
    # The silent node cost its connect timeout; the refused one nothing.
    assert PUBLISH_CONNECT_TIMEOUT * 0.9 <= first < PUBLISH_CONNECT_TIMEOUT + 1.5, first
    started = time.monotonic()
    with connected(config, purpose="publish") as connection:
        assert connection.connection.sock.getpeername()[1] == 5672
    # The node that answered is tried first now: the silent one is not waited for again.
    assert time.monotonic() - started < PUBLISH_CONNECT_TIMEOUT * 0.5


def test_with_no_node_answering_a_connect_fails_within_the_timeout_per_node(silent_node, tmp_path):
    with socket.socket() as second:
        second.bind(("127.0.0.1", 0))
        second.listen(16)
        nodes = [silent_node, f"amqp://guest:guest@127.0.0.1:{second.getsockname()[1]}//"]
        d = Deployment(tmp_path / "d", nodes, [endpoint("silent", "http://x/")])
        started = time.monotonic()
        with pytest.raises(Exception):  # noqa: B017 - what kombu raises for a timeout varies
            connect(d.config, purpose="publish")
        took = time.monotonic() - started
        assert 2 * PUBLISH_CONNECT_TIMEOUT * 0.9 <= took < 2 * PUBLISH_CONNECT_TIMEOUT + 1.5, took

        # The registry's publisher: the first event costs that plus nothing more, and is spooled.
        sink = d.sink
        started = time.monotonic()
        sink.write(make_event())
        took = time.monotonic() - started
        assert took < 2 * PUBLISH_CONNECT_TIMEOUT + 1.5, took
        assert sink.spool.depth() == 1
        sink.close()
