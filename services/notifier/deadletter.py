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


def event_of(message: Message) -> dict | None:
    """The parked event; None for a message that is not one (a notifier parks what it cannot
    decode as it came, so that it is not redelivered forever)."""
    try:
        payload = message.payload
    except Exception:  # kombu's ContentDisallowed, DecodeError: not JSON
        return None
    return payload if isinstance(payload, dict) else None


def _report_not_events(out: TextIO, endpoint: str, count: int) -> None:
    if count:
        print(kv("dead letters kept: not events", endpoint=endpoint, count=count,
                 hint="they stay parked; read them with the broker's own tools"), file=out)


def list_events(config: Config, endpoint: str | None = None, out: TextIO = sys.stdout) -> int:
    topology = topology_for(config)

    def show(_c: Connection, producer: Producer, ep: EndpointConfig,
             messages: list[Message]) -> None:
        events = [event_of(m) for m in messages]
        for event in events:
            if event is not None:
                out.write(json.dumps(event, separators=(",", ":")) + "\n")
        park_again(producer, topology, ep, messages)
        not_events = events.count(None)
        print(kv("dead letters", endpoint=ep.name, count=len(messages) - not_events),
              file=sys.stderr)
        _report_not_events(sys.stderr, ep.name, not_events)

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
        replayed = 0
        kept = []
        for message in messages:
            event = event_of(message)
            if event is None:
                kept.append(message)
                continue
            routing_key = (message.headers or {}).get(HEADER_ROUTING_KEY) or \
                routing_key_for(event)
            producer.publish(
                event, exchange=topology.requeue_exchange, routing_key=ep.name,
                headers={HEADER_ROUTING_KEY: routing_key, HEADER_ATTEMPTS: 0},
                delivery_mode=2, retry=False,
            )
            message.ack()
            replayed += 1
            REPLAYED.labels(endpoint=ep.name).inc()
        park_again(producer, topology, ep, kept)
        DEADLETTER_DEPTH.labels(endpoint=ep.name).set(len(kept))
        out.write(kv("replayed", endpoint=ep.name, count=replayed) + "\n")
        _report_not_events(out, ep.name, len(kept))
        log.info(kv("dead letters replayed", endpoint=ep.name, count=replayed))

    status = _each_parked(config, endpoint, out, send_back)
    out.flush()
    return status
