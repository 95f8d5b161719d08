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
from typing import TextIO

from kombu import Connection
from kombu.exceptions import OperationalError

from shared.broker import connect, node_connection, topology_for
from shared.config import Config
from shared.logfmt import kv
from shared.operations.queue_counts import (
    DISABLED,
    ENABLED,
    NOT_CONFIGURED,
    EndpointQueues,
    endpoint_queues,
    queue_counts,
    removed_endpoints,
)
from shared.operations.queue_counts import earlier_retry_queues as _earlier_retry_queues

__all__ = ["DISABLED", "ENABLED", "NOT_CONFIGURED", "EndpointQueues", "delete", "endpoint_queues",
           "list_queues"]

def _open(config: Config) -> Connection | None:
    try:
        return connect(config, purpose="consume", rounds=4)
    except (OperationalError, *node_connection(config).connection_errors) as exc:  # kombu wraps them
        print(kv("broker unreachable", error=f"{type(exc).__name__}: {exc}"), file=sys.stderr)
        return None


def list_queues(config: Config, endpoint: str | None = None, out: TextIO = sys.stdout) -> int:
    names = [endpoint] if endpoint is not None else [e.name for e in config.notifications.endpoints]
    topology = topology_for(config)
    connection = _open(config)
    if connection is None:
        return 1
    try:
        if endpoint is None:
            names += removed_endpoints(topology, connection, names)
        for name in names:
            counts = queue_counts(config, topology, connection, name)
            # kv() starts with a message; these lines are fields only
            out.write(kv("", endpoint=name, state=endpoint_queues(config, name).state,
                         queued=counts.queued, retrying=counts.retrying,
                         dead=counts.dead).lstrip() + "\n")
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
