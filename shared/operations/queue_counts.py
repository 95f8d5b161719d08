"""An endpoint's queues on the broker and how many events wait in each: what ``registry queues
list`` and ``registry endpoints list`` report. Nothing here creates a queue: looking at a removed
endpoint must not bring its queues back."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kombu import Connection

from shared.broker import (
    Topology,
    dead_queue_name,
    endpoint_queue_name,
    endpoint_record,
    retry_queue_name,
    retry_steps,
)
from shared.config import Config, EndpointConfig

ENABLED, DISABLED, NOT_CONFIGURED = "enabled", "disabled", "not-configured"


@dataclass(frozen=True)
class EndpointQueues:
    name: str
    state: str
    main: str
    retries: tuple[str, ...]
    dead: str

    @property
    def all(self) -> list[str]:
        # Retry queues first: on RabbitMQ a retry whose wait ends goes back to the main queue, so
        # deleting the main queue last counts it instead of losing it uncounted.
        return [*self.retries, self.main, self.dead]


@dataclass(frozen=True)
class QueueCounts:
    queued: int
    retrying: int
    dead: int


def endpoint_queues(config: Config, name: str) -> EndpointQueues:
    """The queues ``name`` has or had. The retry queues' names carry the backoff steps: those of
    the config, or the default ones (backoff 1s doubling to 300s) for a name not configured. (On
    Redis and the embedded broker, :func:`earlier_retry_queues` adds those of other steps.)"""
    configured = next((e for e in config.notifications.endpoints if e.name == name), None)
    if configured is None:
        state, steps = NOT_CONFIGURED, retry_steps(EndpointConfig(name=name, url=""))
    else:
        state, steps = DISABLED if configured.disabled else ENABLED, retry_steps(configured)
    return EndpointQueues(name, state, endpoint_queue_name(name),
                          tuple(retry_queue_name(name, d) for d in steps), dead_queue_name(name))


def count(topology: Topology, connection: Connection, names: Iterable[str]) -> int:
    return sum(topology.queue_size(connection, n) or 0 for n in names)


def earlier_retry_queues(topology: Topology, connection: Connection,
                         queues: EndpointQueues) -> list[str]:
    """On Redis and the embedded broker, the retry queues of steps other than ``queues.retries``
    (an earlier ``backoff`` or ``maxbackoff``): their retries are still the endpoint's."""
    found = topology.bound_retry_queues(connection.default_channel, queues.name)
    return [n for n in found if n not in queues.retries]


def queue_counts(config: Config, topology: Topology, connection: Connection,
                 name: str) -> QueueCounts:
    queues = endpoint_queues(config, name)
    return QueueCounts(
        queued=count(topology, connection, [queues.main]),
        retrying=count(topology, connection,
                       [*queues.retries, *earlier_retry_queues(topology, connection, queues)]),
        dead=count(topology, connection, [queues.dead]))


def removed_endpoints(topology: Topology, connection: Connection,
                      configured: list[str]) -> list[str]:
    """Endpoints the notifiers' record knows and the config does not: removed ones whose queues
    are still there (:mod:`shared.broker.endpoint_record`). No record, no names (and none created)."""
    if all(topology.queue_size(connection, name) is None
           for name in endpoint_record.record_names(topology)):
        return []
    return sorted(set(endpoint_record.stamp(connection, topology, [])) - set(configured))
