"""The broker, shared by the registry (publisher) and the notifier: topology, connections,
the embedded and Redis transports, and the notifiers' record of configured endpoints.

Exchanges (all durable):
- ``<exchange>`` (topic): the registry publishes every event here, routing key ``manifest.push``...
- ``<exchange>.requeue`` (direct, key = endpoint name): retries and replays come back through it.
- ``<exchange>.delay`` (direct, key = ``<endpoint>.<ms>``): failed attempts wait in a retry queue.
- ``<exchange>.dead`` (direct, key = endpoint name): dropped events are parked here.

Queues per endpoint:
- ``registry.notifications.<endpoint>``: bound to the topic exchange with ``#`` (filters run in the
  notifier, so changing a filter never needs a rebind) and to the requeue exchange.
- ``registry.notifications.<endpoint>.retry.<ms>ms``: one per backoff step (first backoff doubling
  up to the cap). On RabbitMQ each has ``x-message-ttl`` and dead-letters back to the requeue
  exchange, so the broker itself holds the wait. Redis and the filesystem transport have no TTL, so
  the notifier moves due messages back itself (:mod:`services.notifier.mover`), reading the
  ``x-due`` header. The delay is in the name: changing ``backoff`` never clashes with a queue
  declared with another TTL.
- ``registry.notifications.<endpoint>.dead``: the dead-letter queue.

``notifications.broker.queuetype: quorum`` (RabbitMQ only) declares all of them as quorum queues,
replicated over the cluster, so losing a node loses no event. A queue's type is fixed when it is
created: declaring it with another type fails (:class:`QueueConflict`).

The embedded broker (no ``notifications.broker.url``) is kombu's filesystem transport with the
channel of :mod:`shared.broker.embedded`; Redis is kombu's Redis transport with the channel of
:mod:`shared.broker.redis_transport`.

Both sides declare the whole topology: a publisher that published before any notifier had bound
the endpoint queues would otherwise lose the event (unroutable). Only enabled endpoints are
declared; a disabled endpoint's queue is unbound from the topic exchange by the notifier at start
(:meth:`Topology.unbind_from_events`), so it stops collecting events nobody reads.

Modules: :mod:`~shared.broker.names` (queue and header names), :mod:`~shared.broker.steps`
(retry waits), :mod:`~shared.broker.topology` (declare, inspect, remove),
:mod:`~shared.broker.conflict` (queues of another type), :mod:`~shared.broker.kind` (which
broker), :mod:`~shared.broker.connection` (connect, failing over between a cluster's nodes),
:mod:`~shared.broker.messages` (republishing). The names below are re-exported for the services.
"""

from shared.broker.conflict import QueueConflict
from shared.broker.connection import (
    CONSUME_HEARTBEAT,
    PUBLISH_CONNECT_TIMEOUT,
    PUBLISH_IO_TIMEOUT,
    connect,
    connected,
    node_connection,
)
from shared.broker.kind import embedded_directory, ignored_queue_type, is_amqp
from shared.broker.messages import republish_afresh
from shared.broker.names import (
    HEADER_ATTEMPTS,
    HEADER_DELIVERY_COUNT,
    HEADER_DUE,
    HEADER_ERROR,
    HEADER_ERROR_CLASS,
    HEADER_ROUTING_KEY,
    HEADER_STATUS,
    HEADER_TARGETED,
    QUEUE_PREFIX,
    dead_queue_name,
    delay_ms,
    endpoint_queue_name,
    retry_queue_name,
)
from shared.broker.steps import MAX_RETRY_STEPS, retry_steps, step_for
from shared.broker.topology import Topology, enabled_endpoints, queue_depth, topology_for

__all__ = [
    "CONSUME_HEARTBEAT", "HEADER_ATTEMPTS", "HEADER_DELIVERY_COUNT", "HEADER_DUE", "HEADER_ERROR",
    "HEADER_ERROR_CLASS", "HEADER_ROUTING_KEY", "HEADER_STATUS", "HEADER_TARGETED",
    "MAX_RETRY_STEPS", "PUBLISH_CONNECT_TIMEOUT", "PUBLISH_IO_TIMEOUT", "QUEUE_PREFIX",
    "QueueConflict", "Topology", "connect", "connected", "dead_queue_name", "delay_ms",
    "embedded_directory", "enabled_endpoints", "endpoint_queue_name", "ignored_queue_type",
    "is_amqp", "node_connection", "queue_depth", "republish_afresh", "retry_queue_name",
    "retry_steps", "step_for", "topology_for",
]
