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
whose queue is gone (``registry queues delete``) leaves the record. The record queue is always a
classic queue: losing it only forgets which endpoints were removed, never an event.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from kombu import Connection, Producer, Queue

from shared.broker.names import endpoint_queue_name
from shared.broker.topology import Topology

RECORD_INTERVAL = 60.0
REMOVED_AFTER = 600.0


def record_queue(topology: Topology) -> Queue:
    return Queue(f"registry.endpoints.{topology.exchange_name}", durable=True,
                 auto_delete=False)


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
    try:
        queue = record_queue(topology)(channel)
        queue.declare()
        taken = []
        while (message := queue.get(no_ack=False, accept=["json"])) is not None:
            taken.append(message)
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
        return record
    finally:
        try:
            channel.close()
        except Exception:  # a broken connection: the caller sees the error that broke it
            pass


def removed(record: dict[str, float], configured: Iterable[str],
            now: float | None = None) -> list[str]:
    """The endpoints of ``record`` not in ``configured`` that no notifier has stamped for
    :data:`REMOVED_AFTER`."""
    now = time.time() if now is None else now
    configured = set(configured)
    return sorted(name for name, when in record.items()
                  if name not in configured and now - when >= REMOVED_AFTER)
