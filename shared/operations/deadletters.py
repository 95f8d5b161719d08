"""The events given up on: list, replay and purge an endpoint's dead letters.

Each call takes only the dead letters parked when it starts, so an event failing again during
a replay is not replayed twice; they are read ``BATCH`` at a time, so memory stays bounded
however many are parked, and on Redis none is held unacknowledged anywhere near the visibility
timeout (after which the notifiers would restore it: a copy).

What stays parked is parked again as a new message (confirmed, then the one read acknowledged),
not returned: a RabbitMQ quorum queue counts every return and drops a message past its delivery
limit (20 by default since 4.0), so returning would lose a dead letter listed that often. They
keep their order; a crash between the two steps leaves a copy twice. A listing on the embedded
broker takes nothing: its messages are files, read in place. A parked message that is
not an event (a notifier parks what it cannot decode, as it came) is never replayed nor purged.

A replayed event goes back to its endpoint's queue with a fresh attempt count; in the history
its delivery turns ``pending`` and its next attempts follow the earlier ones.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kombu import Producer, Queue
from kombu.message import Message
from kombu.serialization import prepare_accept_content

from shared.broker import (
    HEADER_ATTEMPTS,
    HEADER_ERROR,
    HEADER_ERROR_CLASS,
    HEADER_ROUTING_KEY,
    HEADER_STATUS,
    Topology,
    queue_depth,
    republish_afresh,
)
from shared.config import Config, EndpointConfig
from shared.events import event_time, routing_key_for
from shared.history.records import error_class_of
from shared.history.views import iso
from shared.logfmt import kv
from shared.operations.errors import OperationError
from shared.operations.metrics import DEADLETTER_DEPTH, REPLAYED
from shared.operations.publishing import broker, publish_targeted

log = logging.getLogger("registry.deadletter")

BATCH = 500  # messages read, handled and settled together


@dataclass(frozen=True)
class DeadLetter:
    """One parked event and why it was given up on."""

    endpoint: str
    event_id: str
    event: dict[str, Any]
    routing_key: str
    attempts: int
    error: str | None
    error_class: str | None  # dns | connect | tls | timeout | status | internal
    status: int | None  # the last answer's HTTP status, if there was one
    time: str | None  # the event's time
    action: str | None
    repository: str | None
    tag: str | None

    def to_json(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "event_id": self.event_id, "time": self.time,
                "action": self.action, "repository": self.repository, "tag": self.tag,
                "attempts": self.attempts, "error": self.error, "error_class": self.error_class,
                "status": self.status, "event": self.event}


@dataclass(frozen=True)
class DeadLetterFilter:
    """Which dead letters an action takes (every field left None matches all)."""

    event_ids: frozenset[str] | None = None
    repository: str | None = None  # a glob
    action: str | None = None
    status: int | None = None
    error_class: str | None = None
    since: float | None = None  # the event's time, epoch seconds
    until: float | None = None

    def matches(self, letter: DeadLetter) -> bool:
        from fnmatch import fnmatchcase

        if self.event_ids is not None and letter.event_id not in self.event_ids:
            return False
        if self.repository and not fnmatchcase(letter.repository or "", self.repository):
            return False
        if self.action and letter.action != self.action:
            return False
        if self.status is not None and letter.status != self.status:
            return False
        if self.error_class and letter.error_class != self.error_class:
            return False
        stamp = event_time(letter.event.get("timestamp"))
        if self.since is not None and (stamp is None or stamp < self.since):
            return False
        return not (self.until is not None and (stamp is None or stamp >= self.until))


@dataclass
class Tally:
    """What one action did with one endpoint's dead letters."""

    endpoint: str
    disabled: bool = False
    parked: int = 0  # messages in the dead-letter queue when the action started
    events: int = 0  # events read
    not_events: int = 0  # parked messages that are not events: always left parked
    acted: int = 0  # events listed, replayed or purged
    letters: list[DeadLetter] = field(default_factory=list)  # listed (list only)


def _select(config: Config, endpoint: str | None, removed: bool) -> list[EndpointConfig]:
    """The endpoints to look at. With ``removed``, a name no longer in the config too (treated
    as disabled: none of its queues is declared)."""
    endpoints = list(config.notifications.endpoints)
    if endpoint is None:
        return endpoints
    chosen = [e for e in endpoints if e.name == endpoint]
    if not chosen and removed:
        chosen = [EndpointConfig(name=endpoint, url="", disabled=True)]
    if not chosen:
        raise OperationError(f"no endpoint named {endpoint!r} in the configuration: replay sends "
                             "events to a configured endpoint (list shows a removed one's)",
                             status=2)
    return chosen


def dead_letter_of(endpoint: str, message: Message) -> DeadLetter | None:
    """The parked event as a :class:`DeadLetter`; None for a message that is not an event."""
    try:
        payload = message.payload
    except Exception:  # kombu's ContentDisallowed, DecodeError: not JSON
        return None
    if not isinstance(payload, dict):
        return None
    headers = message.headers or {}
    error = headers.get(HEADER_ERROR)
    status = headers.get(HEADER_STATUS)
    target = payload.get("target") if isinstance(payload.get("target"), dict) else {}
    try:
        attempts = int(headers.get(HEADER_ATTEMPTS) or 0)
    except (TypeError, ValueError):
        attempts = 0
    return DeadLetter(
        endpoint=endpoint, event_id=str(payload.get("id") or ""), event=payload,
        routing_key=str(headers.get(HEADER_ROUTING_KEY) or routing_key_for(payload)),
        attempts=attempts, error=str(error) if error is not None else None,
        error_class=headers.get(HEADER_ERROR_CLASS) or error_class_of(error),
        status=int(status) if isinstance(status, int) else None,
        time=iso(event_time(payload.get("timestamp"))), action=payload.get("action"),
        repository=target.get("repository"), tag=target.get("tag"))


# A handler sees each batch as (message, letter-or-None) and returns the messages to park again.
Handler = Callable[[Producer, Topology, EndpointConfig, list[tuple[Message, DeadLetter | None]],
                    Tally], list[Message]]


def walk(config: Config, endpoint: str | None, handle: Handler, removed: bool = False,
         stop: Callable[[Tally], bool] | None = None, batch: int = BATCH,
         read_only: bool = False) -> list[Tally]:
    """Hands each endpoint's dead letters to ``handle``, ``batch`` at a time, parking again what
    it returns. ``stop``: looked at after each batch, ends that endpoint's walk early.
    ``read_only`` (a listing): where the broker can show a queue's messages in place (the
    embedded one's are files), they are read so, and nothing is parked again."""
    endpoints = _select(config, endpoint, removed)
    tallies = []
    with broker(config, endpoints) as (connection, topology):
        producer = Producer(connection.channel(), serializer="json")
        for ep in endpoints:
            dead = topology.dead_queue(ep.name)
            try:
                left = queue_depth(connection, dead)
            except Exception:  # never declared (an endpoint that never dropped anything)
                left = 0
            channel = connection.channel()
            bound = dead(channel)
            in_place = _in_place(channel, dead.name) if read_only else None
            tally = Tally(ep.name, disabled=ep.disabled, parked=left)
            while left > 0 and not (stop and stop(tally)):
                count = min(batch, left)
                messages = (_take(bound, count) if in_place is None
                            else list(itertools.islice(in_place, count)))
                if not messages:
                    break
                left -= len(messages)
                pairs = [(m, dead_letter_of(ep.name, m)) for m in messages]
                tally.events += sum(1 for _, letter in pairs if letter is not None)
                tally.not_events += sum(1 for _, letter in pairs if letter is None)
                parked_again = handle(producer, topology, ep, pairs, tally)
                if in_place is None:  # taken: parked again as new messages
                    for message in parked_again:
                        republish_afresh(producer, message, topology.dead_exchange, ep.name)
            tallies.append(tally)
    return tallies


def _in_place(channel: Any, queue: str) -> Iterator[Message] | None:
    """The queue's messages read where they lie, when the broker's channel can (the embedded
    broker's); None otherwise (AMQP and Redis have no such read: messages are taken)."""
    peek = getattr(channel, "peek", None)
    if peek is None:
        return None
    accept = prepare_accept_content(["json"])

    def read() -> Iterator[Message]:
        for message in peek(queue):
            message.accept = accept  # as Queue.get(accept=["json"]) gives it
            yield message

    return read()


def _take(bound: Queue, count: int) -> list[Message]:
    messages = []
    for _ in range(count):
        message = bound.get(no_ack=False, accept=["json"])
        if message is None:
            break
        messages.append(message)
    return messages


def list_dead_letters(config: Config, endpoint: str | None = None,
                      filters: DeadLetterFilter | None = None,
                      limit: int | None = None) -> list[Tally]:
    """The dead letters (matching ``filters``), left parked; per endpoint at most ``limit``,
    read ``limit`` at a time (a page of the console reads no more than it shows when nothing
    is filtered out). ``endpoint`` may name one removed from the config."""

    def keep(producer, topology, ep, pairs, tally):
        for _, letter in pairs:
            if letter is not None and (filters is None or filters.matches(letter)) and \
                    (limit is None or tally.acted < limit):
                tally.letters.append(letter)
                tally.acted += 1
        return [m for m, _ in pairs]

    return walk(config, endpoint, keep, removed=True,
                stop=None if limit is None else lambda t: t.acted >= limit,
                batch=BATCH if limit is None else max(1, min(BATCH, limit)), read_only=True)


def replay_dead_letters(config: Config, endpoint: str | None = None,
                        filters: DeadLetterFilter | None = None,
                        store: Any = None) -> list[Tally]:
    """Send the dead letters (matching ``filters``) back to their endpoint's queue with a fresh
    attempt count; a disabled endpoint's stay parked. With ``store`` (a
    :class:`~shared.history.HistoryStore`) their deliveries turn pending in the history."""

    def send_back(producer, topology, ep, pairs, tally):
        kept, chosen = [], []
        for message, letter in pairs:
            if letter is None or ep.disabled or (filters is not None and not filters.matches(letter)):
                kept.append(message)
                continue
            chosen.append((message, letter))
        if chosen and store is not None:
            _mark_pending(store, ep.name, [(letter.event, letter.routing_key) for _, letter in chosen])
        for message, letter in chosen:
            publish_targeted(producer, topology, ep.name, letter.event, letter.routing_key)
            message.ack()
            tally.acted += 1
            REPLAYED.labels(endpoint=ep.name).inc()
        return kept

    tallies = walk(config, endpoint, send_back)
    for tally in tallies:
        if not tally.disabled:
            DEADLETTER_DEPTH.labels(endpoint=tally.endpoint).set(tally.events + tally.not_events
                                                                 - tally.acted)
            log.info(kv("dead letters replayed", endpoint=tally.endpoint, count=tally.acted))
    return tallies


def purge_dead_letters(config: Config, endpoint: str | None = None,
                       filters: DeadLetterFilter | None = None) -> list[Tally]:
    """Delete the dead letters (matching ``filters``) for good. ``endpoint`` may name one removed
    from the config. Messages that are not events stay."""

    def drop(producer, topology, ep, pairs, tally):
        kept = []
        for message, letter in pairs:
            if letter is None or (filters is not None and not filters.matches(letter)):
                kept.append(message)
                continue
            message.ack()
            tally.acted += 1
        return kept

    tallies = walk(config, endpoint, drop, removed=True)
    for tally in tallies:
        DEADLETTER_DEPTH.labels(endpoint=tally.endpoint).set(
            tally.events + tally.not_events - tally.acted)
        log.info(kv("dead letters purged", endpoint=tally.endpoint, count=tally.acted))
    return tallies


def _mark_pending(store: Any, endpoint: str, items: list[tuple[dict[str, Any], str]]) -> None:
    """The history says these deliveries are on their way again; a history that cannot be
    reached does not stop the replay (the notifier records the attempts when it can)."""
    from shared.history.engine import HistoryUnavailable
    from shared.history.writes import mark_pending

    try:
        with store.begin() as connection:
            mark_pending(connection, endpoint, items)
    except HistoryUnavailable as exc:
        log.warning(kv("delivery history not updated", error=str(exc)[:300]))
