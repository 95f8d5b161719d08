"""Connections to the configured broker, for consuming or for publishing.

``notifications.broker.url`` may list the nodes of a RabbitMQ cluster. :func:`connect` is how
every part of the registry and the notifier connects: it tries each node in turn, starting with
the one that answered last in this process, so after a node is lost one connect (the publisher's,
the spool flusher's, a consumer's) reaches a surviving node, and the next ones go there first.

kombu's own failover (a URL list given to one ``Connection``) is not used: switching node rebuilds
the connection from the next URL alone, dropping the transport class given here (the buffered
AMQP transport, kombu's TLS one), and its ``ensure_connection`` sleeps between the nodes of a
round when asked for one attempt per node.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from kombu import Connection

from shared.broker.amqp_transport import BufferedAmqpTransport
from shared.broker.embedded import AtomicFilesystemTransport, embedded_transport_options
from shared.broker.kind import embedded_directory
from shared.config import Config

CONSUME_HEARTBEAT = 30.0  # seconds: RabbitMQ and a consumer each drop a connection silent for two
# Publisher side: how long one publish may wait for the broker before the event goes to the spool.
PUBLISH_CONNECT_TIMEOUT = 1.0
PUBLISH_IO_TIMEOUT = 1.0
ROUND_WAIT = 2.0  # seconds before the second round over the nodes, 2x that before the third...

# The node that answered last, per list of nodes: where a connect starts.
_answered: dict[tuple[str, ...], int] = {}
_answered_lock = threading.Lock()



def _visibility_timeout(config: Config) -> float:
    """Redis redelivers an unacknowledged message after this long (so this is how soon a killed
    notifier's deliveries go to another). A consumer holds a message unacked for one attempt
    (at most the endpoint's timeout, prefetch being the pool size); the retry mover reads
    heads in place and holds a message only while it republishes it."""
    longest = max([e.timeout for e in config.notifications.endpoints] or [1.0])
    return 3 * longest + 10.0


def connect(config: Config, purpose: str = "consume", rounds: int = 1) -> Connection:
    """A connection to the configured broker, established: each node in turn, from the one that
    answered last, ``rounds`` times over (waiting 2 s, 4 s, 6 s... between rounds: the waits of
    kombu's ``ensure_connection``, which this replaces). Raises the last node's error when none
    answers.

    ``purpose="publish"``: each node gets one attempt bounded by :data:`PUBLISH_CONNECT_TIMEOUT`,
    so a connect fails within about that much per node listed.
    """
    nodes = config.notifications.broker.nodes
    if embedded_directory(config) is not None or len(nodes) <= 1:
        order = [None]
    else:
        with _answered_lock:
            first = _answered.get(nodes, 0)
        order = [nodes[(first + i) % len(nodes)] for i in range(len(nodes))]
    error: Exception | None = None
    for round_ in range(max(rounds, 1)):
        if round_:
            time.sleep(ROUND_WAIT * round_)
        for node in order:
            connection = node_connection(config, purpose, node)
            try:
                connection.ensure_connection(max_retries=0)  # one attempt: rounds do the rest
            except Exception as exc:
                _release_quietly(connection)
                error = exc
                continue
            if node is not None:
                with _answered_lock:
                    _answered[nodes] = nodes.index(node)
            return connection
    assert error is not None
    raise error


@contextmanager
def connected(config: Config, purpose: str = "consume", rounds: int = 1) -> Iterator[Connection]:
    """:func:`connect`, released at the end (quietly: closing a connection the broker broke may
    fail, and must not hide the error that broke it)."""
    connection = connect(config, purpose, rounds)
    try:
        yield connection
    finally:
        _release_quietly(connection)


def _release_quietly(connection: Connection) -> None:
    try:
        connection.release()
    except Exception:  # a half-open connection may fail to close; it is dropped either way
        pass


def node_connection(config: Config, purpose: str = "consume", node: str | None = None
                    ) -> Connection:
    """A kombu connection to one node of the configured broker (the first unless ``node``), not
    yet connected. Connect through :func:`connect`, which fails over; this is for loading the
    transport's modules ahead of time.

    ``purpose="publish"``: short connect and I/O timeouts, and publisher confirms on RabbitMQ, so
    a publish either is confirmed or fails within a bounded time (then the spool takes the event).
    """
    broker = config.notifications.broker
    url = node or broker.url
    directory = embedded_directory(config)
    if directory is not None:
        options = embedded_transport_options(directory)
        return Connection(transport=AtomicFilesystemTransport, transport_options=options)
    scheme = url.split(":", 1)[0]
    publish = purpose == "publish"
    if scheme in ("amqp", "amqps", "pyamqp"):
        options: dict = {"confirm_publish": True}
        if publish:
            options.update(read_timeout=PUBLISH_IO_TIMEOUT, write_timeout=PUBLISH_IO_TIMEOUT)
        return Connection(
            url,
            # amqps keeps kombu's own TLS transport (the scheme is what turns TLS on).
            transport=None if scheme == "amqps" else BufferedAmqpTransport,
            connect_timeout=PUBLISH_CONNECT_TIMEOUT if publish else 5.0,
            heartbeat=0 if publish else CONSUME_HEARTBEAT,
            transport_options=options,
        )
    if broker.redis:
        options = {
            "visibility_timeout": _visibility_timeout(config),
            # A dead channel's claims come back after this long (shared.broker.redis_transport): as long
            # as a consumer may go without acking, the time one delivery attempt may take.
            "claim_ttl": _visibility_timeout(config),
            "priority_steps": [0],  # no priorities: each queue is one list, popped atomically
            "socket_connect_timeout": PUBLISH_CONNECT_TIMEOUT if publish else 5.0,
            # A consumer looks for a dead peer's unacked messages on one idle poll in 50
            # (0.1-2.5 s), not one in 10 of its restore interval; and a peer killed while
            # holding the restore mutex blocks restores for 10 s, not the default 300 s.
            "unacked_restore_throttle": 50,
            "unacked_mutex_expire": 10,
        }
        if publish:
            options["socket_timeout"] = PUBLISH_IO_TIMEOUT
        # Imported for a Redis broker only: redis-py takes ~0.25 s to import, more than half of
        # what every registry, notifier and command imports to start.
        from shared.broker.redis_transport import ReliableRedisTransport

        return Connection(url, transport=ReliableRedisTransport, transport_options=options)
    return Connection(url)
