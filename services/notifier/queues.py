"""``registry queues CONFIG list|delete [--endpoint NAME] [--yes]``: an endpoint's queues on the broker.

``list`` counts the events waiting in each endpoint's queues (main, retry, dead), for the
configured endpoints and the removed ones the notifiers' record still knows; with ``--endpoint``
it also takes a name no longer in the config, to inspect a removed endpoint's leftovers.
``delete`` removes a disabled or removed endpoint's queues with the events in them; without
``--yes`` it only says what it would delete. Neither creates a queue: looking at a removed
endpoint must not bring its queues back.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TextIO

from kombu import Connection
from kombu.exceptions import OperationalError

from shared.broker import (
    Topology,
    connect,
    dead_queue_name,
    endpoint_queue_name,
    endpoint_record,
    node_connection,
    retry_queue_name,
    retry_steps,
    topology_for,
)
from shared.config import Config, EndpointConfig
from shared.logfmt import kv

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


def endpoint_queues(config: Config, name: str) -> EndpointQueues:
    """The queues ``name`` has or had. The retry queues' names carry the backoff steps: those of
    the config, or the default ones (backoff 1s doubling to 300s) for a name not configured. (On
    Redis and the embedded broker, :func:`_earlier_retry_queues` adds those of other steps.)"""
    configured = next((e for e in config.notifications.endpoints if e.name == name), None)
    if configured is None:
        state, steps = NOT_CONFIGURED, retry_steps(EndpointConfig(name=name, url=""))
    else:
        state, steps = DISABLED if configured.disabled else ENABLED, retry_steps(configured)
    return EndpointQueues(name, state, endpoint_queue_name(name),
                          tuple(retry_queue_name(name, d) for d in steps), dead_queue_name(name))


def _open(config: Config) -> Connection | None:
    try:
        return connect(config, purpose="consume", rounds=4)
    except (OperationalError, *node_connection(config).connection_errors) as exc:  # kombu wraps them
        print(kv("broker unreachable", error=f"{type(exc).__name__}: {exc}"), file=sys.stderr)
        return None


def _count(topology: Topology, connection: Connection, names: list[str] | tuple[str, ...]) -> int:
    return sum(topology.queue_size(connection, n) or 0 for n in names)


def _earlier_retry_queues(topology: Topology, connection: Connection,
                          queues: EndpointQueues) -> list[str]:
    """On Redis and the embedded broker, the retry queues of steps other than ``queues.retries``
    (an earlier ``backoff`` or ``maxbackoff``): their retries are still the endpoint's."""
    found = topology.bound_retry_queues(connection.default_channel, queues.name)
    return [n for n in found if n not in queues.retries]


def _removed_endpoints(topology: Topology, connection: Connection,
                       configured: list[str]) -> list[str]:
    """Endpoints the notifiers' record knows and the config does not: removed ones whose queues
    are still there (:mod:`shared.broker.endpoint_record`). No record, no names (and none created)."""
    if all(topology.queue_size(connection, name) is None
           for name in endpoint_record.record_names(topology)):
        return []
    return sorted(set(endpoint_record.stamp(connection, topology, [])) - set(configured))


def list_queues(config: Config, endpoint: str | None = None, out: TextIO = sys.stdout) -> int:
    names = [endpoint] if endpoint is not None else [e.name for e in config.notifications.endpoints]
    topology = topology_for(config)
    connection = _open(config)
    if connection is None:
        return 1
    try:
        if endpoint is None:
            names += _removed_endpoints(topology, connection, names)
        for name in names:
            queues = endpoint_queues(config, name)
            # kv() starts with a message; these lines are fields only
            out.write(kv("", endpoint=name, state=queues.state,
                         queued=_count(topology, connection, [queues.main]),
                         retrying=_count(topology, connection, [
                             *queues.retries,
                             *_earlier_retry_queues(topology, connection, queues)]),
                         dead=_count(topology, connection, [queues.dead])).lstrip() + "\n")
    finally:
        connection.release()
    out.flush()
    return 0


def delete(config: Config, endpoint: str | None, yes: bool = False,
           out: TextIO = sys.stdout) -> int:
    if endpoint is None:
        print("delete needs --endpoint NAME", file=sys.stderr)
        return 2
    queues = endpoint_queues(config, endpoint)
    if queues.state == ENABLED:
        print(f"endpoint {endpoint!r} is enabled: a running notifier consumes its queues. "
              "Set `disabled: true` or remove it from the config first.", file=sys.stderr)
        return 2
    topology = topology_for(config)
    connection = _open(config)
    if connection is None:
        return 1
    try:
        found = 0
        for name in [*_earlier_retry_queues(topology, connection, queues), *queues.all]:
            if yes:
                deleted = topology.delete_queue(connection, name)
                if deleted is not None:
                    found += 1
                    out.write(kv("deleted", queue=name, messages=deleted) + "\n")
            else:
                size = topology.queue_size(connection, name)
                if size is not None:
                    found += 1
                    out.write(kv("would delete", queue=name, messages=size) + "\n")
        if not found:
            out.write(kv("no queues", endpoint=endpoint) + "\n")
        elif not yes:
            out.write("nothing deleted: run again with --yes to delete these queues and their events\n")
    finally:
        connection.release()
    out.flush()
    return 0
