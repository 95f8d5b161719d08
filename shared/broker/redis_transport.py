"""The Redis broker: kombu's Redis transport, with a pop that a killed consumer cannot lose.

kombu's Redis consumer takes a message with ``BRPOP`` and only afterwards, in a second command,
records it as unacknowledged (the record that ``visibility_timeout`` later restores from). A
consumer killed between the two loses the message: the SIGKILL test lost one event in three runs.

Here the message moves atomically from the queue into this channel's claim list (``BLMOVE``), is
recorded as unacknowledged as before, and only then leaves the claim list. Each channel keeps a
heartbeat key alive while it runs; :func:`recover_claims` (run by every notifier) puts the claims
of channels whose heartbeat has expired back at the head of their queue. A message may then be
delivered twice (at least once, as on RabbitMQ), never lost.

:meth:`ReliableRedisChannel.basic_get` (the retry mover, dead letters) takes a message the same
way, and :meth:`ReliableRedisChannel.get_due` takes the head of a retry queue only when it is due.

Each message taken gets a delivery tag of its own and is addressed to the queue it came from
(:func:`_taken_from`), so an unacknowledged one comes back to that queue only.

Only what the registry uses is covered: no ``global_keyprefix``, no message priorities (the
registry publishes none, so the queue is a single list); otherwise kombu's own pop is used.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable, Mapping
from functools import cached_property
from time import monotonic
from typing import Any, TypeVar

import redis
from kombu.transport import redis as kombu_redis
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import loads

from shared.config import BrokerConfig
from shared.logfmt import kv

CLAIMS_SET = "_registry.claims"  # the claim lists that exist
CLAIM_PREFIX = "_registry.claim."  # + channel id + separator + queue: a list
HEARTBEAT_PREFIX = "_registry.claimer."  # + channel id: expires when the channel is gone
SEPARATOR = "\x06\x16"  # kombu's own separator in Redis key names

T = TypeVar("T")

# Moves the head of a queue (KEYS[1]) into a claim list (KEYS[2]) and registers that list in the
# set of claim lists (KEYS[3]); with a header name (ARGV[1]), only if the head is due by then:
# that header (epoch seconds) is not after ARGV[2] (no header, or not a number: due). Returns the
# message moved, or nil.
TAKE = """
local head = redis.call('LINDEX', KEYS[1], -1)
if not head then
    return false
end
if ARGV[1] ~= '' then
    local ok, message = pcall(cjson.decode, head)
    if ok and type(message) == 'table' and type(message.headers) == 'table' then
        local due = tonumber(message.headers[ARGV[1]])
        if due and due > tonumber(ARGV[2]) then
            return false
        end
    end
end
redis.call('SADD', KEYS[3], KEYS[2])
return redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT')
"""


def claim_key(channel_id: str, queue: str) -> str:
    return f"{CLAIM_PREFIX}{channel_id}{SEPARATOR}{queue}"


class ReliableRedisChannel(kombu_redis.Channel):
    #: Seconds a channel's claims survive without a heartbeat (transport option ``claim_ttl``).
    claim_ttl = 60.0
    from_transport_options = (*kombu_redis.Channel.from_transport_options, "claim_ttl")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.channel_id = f"{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:12]}"
        self._claiming_from: str | None = None
        self._heartbeat_due = 0.0
        self._claim_keys: set[str] = set()

    def _reliable(self) -> bool:
        return not self.global_keyprefix and list(self.priority_steps) == [0]

    def _heartbeat(self, key: str | None = None) -> None:
        """Keep this channel's claims its own; register a claim list the first time."""
        new = key is not None and key not in self._claim_keys
        if not new and monotonic() < self._heartbeat_due:
            return
        with self.conn_or_acquire() as client:
            pipe = client.pipeline()
            pipe.set(HEARTBEAT_PREFIX + self.channel_id, "1", ex=max(1, int(self.claim_ttl)))
            if new:
                pipe.sadd(CLAIMS_SET, key)
            pipe.execute()
        if new:
            self._claim_keys.add(key)
        self._heartbeat_due = monotonic() + self.claim_ttl / 4

    def _brpop_start(self, timeout=None):
        if not self._reliable():
            return super()._brpop_start(timeout)
        queues = self._queue_cycle.consume(len(self.active_queues))
        if not queues:
            return
        # One source per BLMOVE: the registry's consumers have one queue per channel; with more,
        # the cycle takes them in turn.
        queue = queues[0]
        key = claim_key(self.channel_id, queue)
        self._heartbeat(key)
        self._claiming_from = queue
        self._in_poll = self.client.connection
        self._brpop_sent_at = monotonic()
        wait = self.brpop_timeout if timeout is None else timeout
        self.client.connection.send_command("BLMOVE", queue, key, "RIGHT", "LEFT", wait or 0)

    def _brpop_read(self, **options):
        queue = self._claiming_from
        if queue is None:
            return super()._brpop_read(**options)
        try:
            try:
                item = self.client.parse_response(self.client.connection, "BLMOVE", **options)
            except self.connection_errors:
                self.client.connection.disconnect()
                raise
            if item is None:
                raise kombu_redis.Empty()
            self._queue_cycle.rotate(queue)
            # _deliver records it as unacknowledged, then hands it to the consumer.
            self._claimed(queue, item, lambda payload: self.connection._deliver(payload, queue))
            return True
        finally:
            self._claiming_from = None
            self._in_poll = None
            self._flush_brpop_reauth()

    def _claimed(self, queue: str, item: bytes, hand_over: Callable[[dict], T]) -> T:
        """``item`` was moved from ``queue`` into this channel's claim list: ``hand_over`` records
        it as unacknowledged, and only then it leaves the claim list."""
        key = claim_key(self.channel_id, queue)
        try:
            result = hand_over(_taken_from(loads(bytes_to_str(item)), queue))
        except BaseException:
            # Not recorded for sure: back at the head of its queue (twice at worst).
            with self.conn_or_acquire() as client:
                self._unclaim(client.pipeline().rpush(queue, item), key, item).execute()
            raise
        with self.conn_or_acquire() as client:
            self._unclaim(client.pipeline(), key, item).execute()
        return result

    def _unclaim(self, pipe, key: str, item: bytes):
        pipe.lrem(key, 1, item)
        if key not in self._claim_keys:
            # A get's claim list, registered by the take (a consumer's stays registered): a
            # notifier looks for dead channels in every registered list every 2 s, and a retry
            # mover polls up to 24 queues per endpoint.
            pipe.srem(CLAIMS_SET, key)
        return pipe

    def _take(self, queue: str, due_header: str = "", now: float = 0.0) -> Any:
        """A message taken from ``queue`` (unacknowledged) the way the consumer takes one: moved
        atomically into this channel's claim list, recorded, and only then let go of; None when
        the queue is empty (or, with ``due_header``, its head is not due at ``now``)."""
        key = claim_key(self.channel_id, queue)
        self._heartbeat()  # alive before its claim list is registered
        with self.conn_or_acquire() as client:
            item = self._take_script(keys=[queue, key, CLAIMS_SET], args=[due_header, now],
                                     client=client)
        if item is None:
            return None
        return self._claimed(queue, item, self._record)

    @cached_property
    def _take_script(self):
        return self._create_client().register_script(TAKE)

    def _record(self, payload: dict) -> Any:
        message = self.Message(payload, channel=self)
        self.qos.append(message, message.delivery_tag)
        return message

    def basic_get(self, queue, no_ack=False, **kwargs):
        # kombu's get pops (RPOP) and records in a second command: a kill in between lost it.
        if no_ack or not self._reliable():
            return super().basic_get(queue, no_ack, **kwargs)
        return self._take(queue)

    def get_due(self, queue: str, header: str, now: float) -> Any:
        """Take the head of ``queue`` (unacknowledged, like :meth:`basic_get`) if its ``header``
        (epoch seconds) is not after ``now``; else None. One step: looking at the head first and
        taking it next, another notifier could take that head in between, and the one taken
        would be the next, not due, held unacknowledged maybe past the visibility timeout."""
        return self._take(queue, header, now)

    def basic_ack(self, delivery_tag, multiple=False):
        # A channel paused on a full prefetch (slow endpoint) still acks: keep its claims alive.
        self._heartbeat()
        return super().basic_ack(delivery_tag, multiple)

    def close(self):
        # Closing: whatever a pending BLMOVE may still have claimed goes back at the next
        # recovery pass instead of when the heartbeat would have expired. (Before the pools
        # close with the channel.)
        if self._claim_keys:
            try:
                with self.conn_or_acquire() as client:
                    client.delete(HEARTBEAT_PREFIX + self.channel_id)
            except Exception:  # the broker may be gone already; the key then expires by itself
                pass
        super().close()


class ReliableRedisTransport(kombu_redis.Transport):
    Channel = ReliableRedisChannel


def _taken_from(payload: dict, queue: str) -> dict:
    """``payload``, just taken from ``queue``, with a delivery tag of its own and addressed to
    ``queue``.

    kombu tags a message once per publish, so every endpoint's copy of an event had the same tag,
    which keys the unacknowledged records: one endpoint's ack deleted another's record, and a
    notifier killed then lost that copy. And kombu restores an unacknowledged message
    (visibility timeout, closed channel) by routing it again by its delivery_info: through the
    events' topic exchange, into every endpoint's queue. The default exchange ('') with the
    queue's name as routing key takes it back to that queue only."""
    properties = payload["properties"]
    properties["delivery_tag"] = uuid.uuid4().hex
    properties.setdefault("delivery_info", {}).update(exchange="", routing_key=queue)
    return payload


def recover_claims(client: redis.Redis, log=None) -> int:
    """Put the messages claimed by channels that are gone (no heartbeat) back at the head of
    their queues. Safe to run in every notifier at once (each move is atomic). Returns how many
    came back."""
    recovered = 0
    for member in client.smembers(CLAIMS_SET):
        key = bytes_to_str(member)
        channel_id, _, queue = key[len(CLAIM_PREFIX):].partition(SEPARATOR)
        if not queue or client.exists(HEARTBEAT_PREFIX + channel_id):
            continue
        moved = 0
        while client.lmove(key, queue, "RIGHT", "RIGHT") is not None:
            moved += 1
        client.srem(CLAIMS_SET, key)
        if moved and log is not None:
            log.warning(kv("requeued messages of a dead consumer", queue=queue, count=moved))
        recovered += moved
    return recovered


def forget_claims(client: redis.Redis, queue: str) -> int:
    """Delete the claim lists of ``queue`` (its queue is being deleted: recovery must not bring
    their messages back into it). Returns how many messages they held."""
    dropped = 0
    for member in client.smembers(CLAIMS_SET):
        key = bytes_to_str(member)
        if key.startswith(CLAIM_PREFIX) and key.endswith(SEPARATOR + queue):
            dropped += int(client.llen(key))
            client.delete(key)
            client.srem(CLAIMS_SET, key)
    return dropped


def client_for(broker: BrokerConfig, timeout: float = 5.0) -> redis.Redis | None:
    """A redis-py client on the configured broker when it is Redis; None otherwise."""
    if not broker.redis:
        return None
    return redis.Redis.from_url(broker.url, socket_connect_timeout=timeout,
                                socket_timeout=timeout)


def persistence_gap(settings: Mapping[str, str]) -> str | None:
    """What a restart of Redis (or of its host) would lose of the queued events, from its
    ``appendonly``, ``appendfsync`` and ``save`` settings; None when nothing acknowledged is.

    ``appendfsync everysec`` counts as safe: Redis writes the append-only file before it answers
    a publish, so only a crash of the whole host within the second loses anything."""
    if settings.get("appendonly") == "yes":
        if settings.get("appendfsync") == "no":
            return "appendfsync no: events the kernel has not flushed are lost if the host goes down"
        return None
    if (settings.get("save") or "").strip():
        return "snapshots only (save, no appendonly): events since the last snapshot are lost"
    return "nothing on disk (no appendonly, no save): every queued event is lost"


def warn_if_not_persistent(client: redis.Redis, log: logging.Logger) -> None:
    """One WARNING at start when the Redis broker would lose queued events on a restart: on
    RabbitMQ a published event is on disk before it is confirmed, and an operator who chose
    Redis should know when that is not so."""
    try:
        settings: dict[str, str] = {}
        for name in ("appendonly", "appendfsync", "save"):
            for key, value in client.config_get(name).items():
                settings[bytes_to_str(key)] = bytes_to_str(value)
    except redis.ResponseError as exc:  # CONFIG renamed or forbidden (managed services)
        log.info(kv("redis broker persistence unknown, CONFIG GET refused", error=exc))
        return
    except redis.RedisError as exc:  # unreachable: the publisher and consumers report that
        log.debug(kv("redis broker persistence not checked", error=exc))
        return
    gap = persistence_gap(settings)
    if gap is not None:
        log.warning(kv("redis broker does not keep events across a restart", problem=gap,
                       fix="appendonly yes"))
