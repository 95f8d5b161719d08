"""Connections to the configured broker, for consuming or for publishing."""

from __future__ import annotations

from kombu import Connection

from shared.broker.amqp_transport import BufferedAmqpTransport
from shared.broker.embedded import AtomicFilesystemTransport, embedded_transport_options
from shared.broker.kind import embedded_directory
from shared.broker.redis_transport import ReliableRedisTransport
from shared.config import Config

CONSUME_HEARTBEAT = 30.0  # seconds: RabbitMQ and a consumer each drop a connection silent for two
# Publisher side: how long one publish may wait for the broker before the event goes to the spool.
PUBLISH_CONNECT_TIMEOUT = 1.0
PUBLISH_IO_TIMEOUT = 1.0




def _visibility_timeout(config: Config) -> float:
    """Redis redelivers an unacknowledged message after this long (so this is how soon a killed
    notifier's deliveries go to another). A consumer holds a message unacked for one attempt
    (at most the endpoint's timeout, prefetch being the pool size); the retry mover reads
    heads in place and holds a message only while it republishes it."""
    longest = max([e.timeout for e in config.notifications.endpoints] or [1.0])
    return 3 * longest + 10.0


def connect(config: Config, purpose: str = "consume") -> Connection:
    """A kombu connection to the configured broker (not yet connected).

    ``purpose="publish"``: short connect and I/O timeouts, and publisher confirms on RabbitMQ, so
    a publish either is confirmed or fails within a bounded time (then the spool takes the event).
    """
    broker = config.notifications.broker
    url = broker.url
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
        return Connection(url, transport=ReliableRedisTransport, transport_options=options)
    return Connection(url)
