"""``registry deadletter CONFIG list|replay [--endpoint NAME]``: the events given up on.

``list`` prints each parked event as one JSON document per line and leaves it parked (with
``--endpoint`` also an endpoint removed from the config); ``replay`` sends each back to its
endpoint's queue with a fresh attempt count. Both take only
the events parked when they start, so an event failing again during a replay is not replayed twice.

What stays parked is parked again as a new message (confirmed, then the one read acknowledged),
not returned: a RabbitMQ quorum queue counts every return and drops a message past its delivery
limit (20 by default since 4.0), so returning would lose a dead letter listed that often. They
keep their order; a crash between the two steps leaves a copy twice.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from typing import TextIO

from kombu import Connection, Producer
from kombu.message import Message

from services.notifier.metrics import DEADLETTER_DEPTH, REPLAYED
from shared.broker import (
    HEADER_ATTEMPTS,
    HEADER_ROUTING_KEY,
    QueueConflict,
    Topology,
    connect,
    queue_depth,
    republish_afresh,
    topology_for,
)
from shared.config import Config, EndpointConfig
from shared.events import routing_key_for
from shared.logfmt import kv

log = logging.getLogger("registry.deadletter")


def _select(config: Config, endpoint: str | None, removed: bool) -> list[EndpointConfig] | None:
    """The endpoints to look at. With ``removed``, a name no longer in the config too (treated
    as disabled: none of its queues is declared); None for a name not configured otherwise."""
    endpoints = list(config.notifications.endpoints)
    if endpoint is None:
        return endpoints
    chosen = [e for e in endpoints if e.name == endpoint]
    if not chosen and removed:
        chosen = [EndpointConfig(name=endpoint, url="", disabled=True)]
    return chosen or None


def _each_parked(config: Config, endpoint: str | None, out: TextIO,
                 handle: Callable[[Connection, Producer, EndpointConfig, list[Message]], None],
                 removed: bool = False) -> int:
    endpoints = _select(config, endpoint, removed)
    if endpoints is None:
        print(f"no endpoint named {endpoint!r} in the configuration: replay sends events to a "
              "configured endpoint (list shows a removed one's)", file=sys.stderr)
        return 2
    topology = topology_for(config)
    connection = connect(config, purpose="consume")
    try:
        connection.ensure_connection(max_retries=3)
        # A disabled endpoint's queue is not declared: it would collect events nobody reads.
        try:
            topology.declare(connection, [e for e in endpoints if not e.disabled])
        except QueueConflict as exc:
            print(exc.log_line("broker queue exists with another type"), file=sys.stderr)
            return 1
        producer = Producer(connection.channel(), serializer="json")
        for ep in endpoints:
            dead = topology.dead_queue(ep.name)
            try:
                count = queue_depth(connection, dead)
            except Exception:  # never declared (an endpoint that never dropped anything)
                count = 0
            bound = dead(connection.channel())
            messages = []
            for _ in range(count):
                message = bound.get(no_ack=False, accept=["json"])
                if message is None:
                    break
                messages.append(message)
            handle(connection, producer, ep, messages)
    finally:
        connection.release()
    return 0


def park_again(producer: Producer, topology: Topology, endpoint: EndpointConfig,
               messages: list[Message]) -> None:
    """Put messages read from an endpoint's dead-letter queue back there, in order, as new ones."""
    for message in messages:
        republish_afresh(producer, message, topology.dead_exchange, endpoint.name)


def list_events(config: Config, endpoint: str | None = None, out: TextIO = sys.stdout) -> int:
    topology = topology_for(config)

    def show(_c: Connection, producer: Producer, ep: EndpointConfig,
             messages: list[Message]) -> None:
        for message in messages:
            out.write(json.dumps(message.payload, separators=(",", ":")) + "\n")
        park_again(producer, topology, ep, messages)
        print(kv("dead letters", endpoint=ep.name, count=len(messages)), file=sys.stderr)

    status = _each_parked(config, endpoint, out, show, removed=True)
    out.flush()
    return status


def replay(config: Config, endpoint: str | None = None, out: TextIO = sys.stdout) -> int:
    topology = topology_for(config)

    def send_back(_c: Connection, producer: Producer, ep: EndpointConfig,
                  messages: list[Message]) -> None:
        if ep.disabled and messages:
            park_again(producer, topology, ep, messages)
            out.write(kv("not replayed: endpoint disabled", endpoint=ep.name,
                         count=len(messages)) + "\n")
            return
        for message in messages:
            routing_key = (message.headers or {}).get(HEADER_ROUTING_KEY) or \
                routing_key_for(message.payload)
            producer.publish(
                message.payload, exchange=topology.requeue_exchange, routing_key=ep.name,
                headers={HEADER_ROUTING_KEY: routing_key, HEADER_ATTEMPTS: 0},
                delivery_mode=2, retry=False,
            )
            message.ack()
            REPLAYED.labels(endpoint=ep.name).inc()
        DEADLETTER_DEPTH.labels(endpoint=ep.name).set(0)
        out.write(kv("replayed", endpoint=ep.name, count=len(messages)) + "\n")
        log.info(kv("dead letters replayed", endpoint=ep.name, count=len(messages)))

    status = _each_parked(config, endpoint, out, send_back)
    out.flush()
    return status
