"""Sending events to one endpoint's queue: how a resend, a backfill, a replay and a test event
reach the notifiers. Through the requeue exchange (keyed by endpoint name), so only that
endpoint gets them; marked targeted, so the history records no fan-out for them; with a fresh
attempt count."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from kombu import Connection, Producer
from kombu.exceptions import OperationalError

from shared.broker import (
    HEADER_ATTEMPTS,
    HEADER_ROUTING_KEY,
    HEADER_TARGETED,
    QueueConflict,
    Topology,
    connect,
    node_connection,
    topology_for,
)
from shared.config import Config, EndpointConfig
from shared.operations.errors import OperationError


def configured_endpoint(config: Config, name: str, enabled: bool = True) -> EndpointConfig:
    """The endpoint called ``name``; refused when unknown (or disabled, with ``enabled``)."""
    endpoint = next((e for e in config.notifications.endpoints if e.name == name), None)
    if endpoint is None:
        raise OperationError(f"no endpoint named {name!r} in the configuration", status=2)
    if enabled and endpoint.disabled:
        raise OperationError(f"endpoint {name!r} is disabled: nothing would deliver to it",
                             status=2)
    return endpoint


@contextmanager
def broker(config: Config, declare: Iterable[EndpointConfig] = ()) -> Iterator[
        tuple[Connection, Topology]]:
    """A connection to the broker, with the queues of ``declare`` in place."""
    topology = topology_for(config)
    try:
        connection = connect(config, purpose="consume", rounds=4)
    except (OperationalError, *node_connection(config).connection_errors) as exc:
        raise OperationError(f"broker unreachable: {type(exc).__name__}: {exc}") from None
    try:
        try:
            topology.declare(connection, [e for e in declare if not e.disabled])
        except QueueConflict as exc:
            raise OperationError(exc.log_line("broker queue exists with another type")) from None
        yield connection, topology
    finally:
        connection.release()


def publish_targeted(producer: Producer, topology: Topology, endpoint: str,
                     event: dict[str, Any], routing_key: str) -> None:
    producer.publish(
        event, exchange=topology.requeue_exchange, routing_key=endpoint,
        headers={HEADER_ROUTING_KEY: routing_key, HEADER_ATTEMPTS: 0, HEADER_TARGETED: 1},
        delivery_mode=2, retry=False,
    )


def send_to_endpoint(config: Config, endpoint: EndpointConfig,
                     batches: Iterable[list[tuple[dict[str, Any], str]]]) -> int:
    """Publish every (event, routing key) of ``batches`` to ``endpoint``'s queue (confirmed on
    RabbitMQ); how many were sent."""
    sent = 0
    with broker(config, [endpoint]) as (connection, topology):
        producer = Producer(connection.channel(), serializer="json")
        for batch in batches:
            for event, routing_key in batch:
                publish_targeted(producer, topology, endpoint.name, event, routing_key)
                sent += 1
    return sent
