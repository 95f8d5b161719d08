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
from dataclasses import dataclass
from typing import TextIO

from kombu import Producer, Queue
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


BATCH = 500  # messages read, handled and settled together


@dataclass
class Tally:
    """What one command did with an endpoint's dead letters."""

    events: int = 0
    not_events: int = 0  # parked messages that are not events: always left parked


Handler = Callable[[Producer, EndpointConfig, list[Message], Tally], None]


def _each_parked(config: Config, endpoint: str | None, handle: Handler,
                 summarize: Callable[[EndpointConfig, Tally], None],
                 removed: bool = False) -> int:
    """Hands each endpoint's dead letters to ``handle``, ``BATCH`` at a time: memory stays
    bounded however many are parked, and on Redis none is held unacknowledged anywhere near
    the visibility timeout (after which the notifiers would restore it: a copy). Only those
    parked at the start are taken: what is parked again goes behind them."""
    endpoints = _select(config, endpoint, removed)
    if endpoints is None:
        print(f"no endpoint named {endpoint!r} in the configuration: replay sends events to a "
              "configured endpoint (list shows a removed one's)", file=sys.stderr)
        return 2
    topology = topology_for(config)
    connection = connect(config, purpose="consume", rounds=4)
    try:
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
                left = queue_depth(connection, dead)
            except Exception:  # never declared (an endpoint that never dropped anything)
                left = 0
            bound = dead(connection.channel())
            tally = Tally()
            while left > 0:
                messages = _take(bound, min(BATCH, left))
                if not messages:
                    break
                left -= len(messages)
                handle(producer, ep, messages, tally)
            summarize(ep, tally)
    finally:
        connection.release()
    return 0


def _take(bound: Queue, count: int) -> list[Message]:
    messages = []
    for _ in range(count):
        message = bound.get(no_ack=False, accept=["json"])
        if message is None:
            break
        messages.append(message)
    return messages


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

    def show(producer: Producer, ep: EndpointConfig, messages: list[Message],
             tally: Tally) -> None:
        for event in map(event_of, messages):
            if event is None:
                tally.not_events += 1
            else:
                out.write(json.dumps(event, separators=(",", ":")) + "\n")
                tally.events += 1
        park_again(producer, topology, ep, messages)

    def summarize(ep: EndpointConfig, tally: Tally) -> None:
        print(kv("dead letters", endpoint=ep.name, count=tally.events), file=sys.stderr)
        _report_not_events(sys.stderr, ep.name, tally.not_events)

    status = _each_parked(config, endpoint, show, summarize, removed=True)
    out.flush()
    return status


def replay(config: Config, endpoint: str | None = None, out: TextIO = sys.stdout) -> int:
    topology = topology_for(config)

    def send_back(producer: Producer, ep: EndpointConfig, messages: list[Message],
                  tally: Tally) -> None:
        kept = []
        for message in messages:
            event = event_of(message)
            if event is None or ep.disabled:
                kept.append(message)
                tally.not_events += event is None
                tally.events += event is not None
                continue
            routing_key = (message.headers or {}).get(HEADER_ROUTING_KEY) or \
                routing_key_for(event)
            producer.publish(
                event, exchange=topology.requeue_exchange, routing_key=ep.name,
                headers={HEADER_ROUTING_KEY: routing_key, HEADER_ATTEMPTS: 0},
                delivery_mode=2, retry=False,
            )
            message.ack()
            tally.events += 1
            REPLAYED.labels(endpoint=ep.name).inc()
        park_again(producer, topology, ep, kept)

    def summarize(ep: EndpointConfig, tally: Tally) -> None:
        if ep.disabled:
            if tally.events:
                out.write(kv("not replayed: endpoint disabled", endpoint=ep.name,
                             count=tally.events) + "\n")
        else:
            DEADLETTER_DEPTH.labels(endpoint=ep.name).set(tally.not_events)
            out.write(kv("replayed", endpoint=ep.name, count=tally.events) + "\n")
            log.info(kv("dead letters replayed", endpoint=ep.name, count=tally.events))
        _report_not_events(out, ep.name, tally.not_events)

    status = _each_parked(config, endpoint, send_back, summarize)
    out.flush()
    return status
