"""Which endpoints notifiers have configured, kept on the broker: how a notifier finds the queues
of endpoints removed from the config.

A removed endpoint's queue stays bound to the events exchange and collects every event, with
nobody consuming it, until the broker runs out of room. AMQP cannot list queues, so notifiers
keep a record in a queue of their own (``registry.endpoints.<exchange>``): when each endpoint
was last configured in a running notifier. Every notifier stamps its endpoints when it starts
and every :data:`RECORD_INTERVAL`; an endpoint that no notifier has stamped for
:data:`REMOVED_AFTER` has been removed. That wait is longer than a rolling update: while
notifiers on the old config still run, the endpoint they have is not taken for removed, and an
endpoint the new config adds is stamped by the new notifiers before an old one could misjudge it.

The record is a queue of JSON maps ``{endpoint: epoch seconds}``. A notifier takes every map in
it, merges them (the latest time per endpoint), puts one map back and only then acknowledges the
ones it took: notifiers doing this at once leave a map each, merged by the next one. An endpoint
whose queue is gone (``registry queues delete``) leaves the record.

The record queue has the type of the endpoints' queues. With ``queuetype: quorum`` it is a quorum
queue, so it outlives the loss of a node as they do: a classic queue lives on one node, and while
that node is down every notifier's check fails (RabbitMQ answers NOT_FOUND, "home node ... is
down") and removed endpoints go unnoticed. A queue's type cannot change, and installs before this
one have a classic record under the plain name, so the quorum record has a name of its own
(``registry.endpoints.<exchange>.quorum``) rather than a declare that fails with
PRECONDITION_FAILED. A notifier reads the record of the other type too when it exists (an install
switched from classic, or back), merges it into its own and deletes it once empty: the stamps it
held are kept, and nothing is left behind. One unreachable (its node down) is skipped, not an
error: the next check takes it. Losing a record still only forgets which endpoints were removed
(they are found again :data:`REMOVED_AFTER` later), never an event.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from kombu import Connection, Producer, Queue
from kombu.message import Message

from shared.broker.names import endpoint_queue_name
from shared.broker.topology import Topology

RECORD_INTERVAL = 60.0
REMOVED_AFTER = 600.0


def record_queue(topology: Topology) -> Queue:
    """The record, of the type of the endpoints' queues."""
    return _record(topology, topology.quorum)


def _record(topology: Topology, quorum: bool) -> Queue:
    name = f"registry.endpoints.{topology.exchange_name}"
    if quorum:
        return Queue(f"{name}.quorum", durable=True, auto_delete=False,
                     queue_arguments={"x-queue-type": "quorum"})
    return Queue(name, durable=True, auto_delete=False)


def record_names(topology: Topology) -> list[str]:
    """The names a record may have on this broker: ours first, then the other type's (RabbitMQ
    only: elsewhere every queue is of one kind)."""
    names = [record_queue(topology).name]
    if topology.amqp:
        names.append(_record(topology, not topology.quorum).name)
    return names


def _merge(payloads: Iterable[object]) -> dict[str, float]:
    merged: dict[str, float] = {}
    for payload in payloads:
        if not isinstance(payload, dict):
            continue  # not ours: dropped with the message
        for name, when in payload.items():
            if isinstance(name, str) and isinstance(when, int | float):
                merged[name] = max(merged.get(name, 0.0), float(when))
    return merged


def stamp(connection: Connection, topology: Topology, configured: Iterable[str],
          now: float | None = None) -> dict[str, float]:
    """Stamp the ``configured`` endpoints in the record (with ``now``), forget the endpoints
    whose queue is gone, and return the record."""
    now = time.time() if now is None else now
    channel = connection.channel()
    other = connection.channel() if topology.amqp else None
    try:
        queue = record_queue(topology)(channel)
        queue.declare()
        taken = _take_all(queue)
        earlier = _other_record(connection, other, topology) if other is not None else None
        if earlier is not None:
            taken += _take_all(earlier)
        record = _merge(m.payload for m in taken)
        configured = set(configured)
        for name in configured:
            record[name] = now
        for name in [n for n in record if n not in configured]:
            if topology.queue_size(connection, endpoint_queue_name(name)) is None:
                del record[name]
        # The default exchange delivers to the queue its routing key names, on every broker.
        Producer(channel, serializer="json").publish(
            record, exchange="", routing_key=queue.name, delivery_mode=2, retry=False)
        for message in taken:
            message.ack()
        if earlier is not None:
            try:
                earlier.delete(if_empty=True)
            except connection.channel_errors:
                pass  # a notifier on the other queue type stamped it meanwhile: taken next time
        return record
    finally:
        for ch in (channel, other):
            try:
                if ch is not None:
                    ch.close()
            except Exception:  # a broken connection: the caller sees the error that broke it
                pass


def _take_all(queue: Queue) -> list[Message]:
    taken = []
    while (message := queue.get(no_ack=False, accept=["json"])) is not None:
        taken.append(message)
    return taken


def _other_record(connection: Connection, channel, topology: Topology) -> Queue | None:
    """The record of the other queue type, bound to ``channel``, when it exists and its node is
    up; None otherwise (RabbitMQ then closes the channel: it is for this alone)."""
    queue = _record(topology, not topology.quorum)(channel)
    try:
        queue.queue_declare(passive=True)
    except connection.channel_errors:
        return None  # none (the usual case), or its node is down: a later check takes it
    return queue


def removed(record: dict[str, float], configured: Iterable[str],
            now: float | None = None) -> list[str]:
    """The endpoints of ``record`` not in ``configured`` that no notifier has stamped for
    :data:`REMOVED_AFTER`."""
    now = time.time() if now is None else now
    configured = set(configured)
    return sorted(name for name, when in record.items()
                  if name not in configured and now - when >= REMOVED_AFTER)
