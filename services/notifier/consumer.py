"""One endpoint's consumer: its own thread, broker connection and delivery pool.

Endpoints are isolated: a slow or dead endpoint only fills its own pool. The consumer thread is
the only one touching the broker connection (kombu channels are not thread-safe); pool threads
run the pipeline and hand outcomes back through a queue. A message is acknowledged only after
its outcome is safely elsewhere: delivered, filtered, republished to a retry queue, or parked in
the dead-letter queue (publisher confirms on RabbitMQ). A crash before that leaves it to the
broker to redeliver (at least once). Each settled outcome then goes to the history
(:mod:`services.notifier.recording`) and the pause gate (:mod:`services.notifier.pausing`).

While the endpoint is paused the consumer takes nothing: it lets go of its connection as a
stopping notifier does (deliveries in flight finish; those not started go back to the queue),
and waits; auto-paused, it probes the head of the queue when its gate says so.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from functools import partial
from typing import Any

from kombu import Connection, Consumer, Producer
from kombu.message import Message

from services.notifier.acks import AckWindow
from services.notifier.metrics import DEADLETTER_DEPTH, QUEUE_DEPTH
from services.notifier.mover import RetryMover
from services.notifier.outcomes import Delivery, Dropped, Failed, Held, Outcome, RetryLater, Sink
from services.notifier.pausing import EndpointGate
from services.notifier.pipeline import build_pipeline
from services.notifier.pool import DeliveryPool
from services.notifier.recording import DeliveryRecorder
from services.notifier.retry import after_failure
from shared.broker import (
    HEADER_ATTEMPTS,
    HEADER_DELIVERY_COUNT,
    HEADER_DUE,
    HEADER_ERROR,
    HEADER_ERROR_CLASS,
    HEADER_ROUTING_KEY,
    HEADER_STATUS,
    HEADER_TARGETED,
    QueueConflict,
    connect,
    queue_depth,
    republish_afresh,
    step_for,
    topology_for,
)
from shared.config import Config, EndpointConfig
from shared.events import routing_key_for
from shared.history.records import INTERNAL
from shared.logfmt import kv

log = logging.getLogger("notifier")

TICK = 0.05  # how long an idle consumer waits for a message before looking around
# With deliveries in flight, outcomes come back through a queue the broker socket cannot wake
# us for: wait for the broker only this long, so acks (and with them the next messages) flow.
BUSY_TICK = 0.002
# On RabbitMQ a consumer holds this many messages per delivery thread: the broker then sends
# them several to a socket read, and the consumer thread, which every event passes through,
# spends less per event (measured: ~410 -> ~360 us of CPU per event draining a backlog, +18%
# events/s). A Redis message held unacknowledged longer than the visibility timeout (sized for
# one attempt) would be restored to the queue as if its consumer had died, so there it is one.
PREFETCH_PER_THREAD = 4
# Asking the broker for the queue depths also reads the connection while the window is full
# (no deliveries read then): its heartbeats counted, it outlives deliveries slower than two.
DEPTH_INTERVAL = 2.0
HEARTBEAT_CHECK_INTERVAL = 1.0  # the consume connection's heartbeat is 30 s
JSON = "application/json"
SHUTDOWN_GRACE = 10.0
PAUSED_TICK = 0.25  # how often a paused consumer looks whether it may go on (or probe)


def _count(value: Any) -> int:
    """An attempt count from a header; one that is not a count (a message published by
    something else than this registry) counts as none."""
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError):
        return 0


class EndpointConsumer(threading.Thread):
    def __init__(self, config: Config, endpoint: EndpointConfig, stop: threading.Event,
                 pipeline: Sink | None = None, recorder: DeliveryRecorder | None = None,
                 gate: EndpointGate | None = None):
        super().__init__(name=f"consumer-{endpoint.name}", daemon=True)
        self.config = config
        self.endpoint = endpoint
        self.stop = stop
        self.topology = topology_for(config)
        self.recorder = recorder or DeliveryRecorder(None)
        self.gate = gate or EndpointGate(endpoint)
        self.pipeline = pipeline or build_pipeline(endpoint, record=self.recorder.recording,
                                                   max_body=config.history.maxbodybytes)
        self.pool = DeliveryPool(endpoint.name, endpoint.concurrency, self._run_pipeline)
        self.inflight = 0
        self.generation = 0
        self.connected = False
        self.conflict: QueueConflict | None = None
        self.acks = AckWindow(coalesce=self.topology.amqp)

    def run(self) -> None:
        wait = 0.5
        while not self.stop.is_set():
            if self.gate.held:
                if self.gate.probe_due():
                    self._probe()
                self.stop.wait(PAUSED_TICK)
                continue
            try:
                self._consume()
                wait = 0.5
            except QueueConflict as exc:
                # Our queue was re-created with another type while we ran: reconnecting cannot
                # fix that, so the whole notifier stops (services.notifier.service explains why).
                self.conflict = exc
                log.error(exc.log_line("broker queue exists with another type, notifier exiting"))
                self.stop.set()
            except Exception as exc:
                self.connected = False
                log.warning(kv("broker connection lost, reconnecting", endpoint=self.endpoint.name,
                               error=f"{type(exc).__name__}: {exc}"))
                self.stop.wait(wait)
                wait = min(wait * 2, 2.0)
        self.pool.shutdown()

    def _consume(self) -> None:
        self.generation += 1
        generation = self.generation
        self.acks = AckWindow(coalesce=self.topology.amqp)  # delivery tags are per channel
        connection = connect(self.config, purpose="consume", rounds=2)
        try:
            self.topology.declare(connection, [self.endpoint])
            producer = Producer(connection.channel(), serializer="json")
            prefetch = self.endpoint.concurrency * (PREFETCH_PER_THREAD if self.topology.amqp
                                                    else 1)
            consumer = Consumer(
                connection.channel(),
                queues=[self.topology.endpoint_queue(self.endpoint.name)],
                # The body is decoded here, not by kombu: its JSON decoding costs a draining
                # notifier twice the standard library's.
                on_message=partial(self._on_raw_message, producer, generation),
                prefetch_count=prefetch,
            )
            mover = None if self.topology.amqp else RetryMover(connection, self.topology,
                                                               self.endpoint)
            consumer.consume()
            self.connected = True
            log.info(kv("consuming", endpoint=self.endpoint.name,
                        queue=self.topology.endpoint_queue(self.endpoint.name).name))
            next_depth = next_heartbeat = 0.0
            while not self.stop.is_set() and not self.gate.held:
                if self.inflight >= prefetch:
                    # Nothing more can arrive before we ack: wait for an outcome instead.
                    self._settle(producer, generation, block=TICK)
                else:
                    try:
                        connection.drain_events(timeout=BUSY_TICK if self.inflight else TICK)
                    except TimeoutError:
                        pass
                    self._settle(producer, generation)
                if mover is not None:
                    mover.tick(producer)
                now = time.monotonic()
                if now >= next_depth:
                    self._update_depths(connection)
                    next_depth = time.monotonic() + DEPTH_INTERVAL
                if self.topology.amqp and now >= next_heartbeat:
                    connection.heartbeat_check()
                    next_heartbeat = now + HEARTBEAT_CHECK_INTERVAL
            # Graceful stop (or pause): take no more, finish the deliveries running and settle
            # them. Those not started go back to the broker as they are, for another notifier:
            # started now, they could outlast the grace and arrive twice.
            consumer.cancel()
            self.inflight -= self.pool.drop_waiting()
            deadline = time.monotonic() + SHUTDOWN_GRACE
            while self.inflight > 0 and time.monotonic() < deadline:
                self._settle(producer, generation, block=0.1)
            if mover is not None:
                mover.release()
        finally:
            self.connected = False
            try:
                connection.release()
            except Exception:  # a broken connection may fail to close; it is gone either way
                pass

    def _on_raw_message(self, producer: Producer, generation: int, message: Message) -> None:
        try:
            if message.content_type != JSON:
                raise ValueError(f"content type {message.content_type!r} is not {JSON}")
            body = json.loads(message.body)
        except (ValueError, RecursionError) as exc:
            self._park_undecodable(producer, message, exc)
            return
        self._on_message(producer, generation, body, message)

    def _delivery(self, producer: Producer, body: Any, message: Message,
                  probe: bool = False) -> Delivery | None:
        """The delivery a message asks for; None once a message that cannot be one is parked."""
        try:
            headers = message.headers or {}
            if not isinstance(body, dict):
                body = {"invalid": repr(body)[:1000]}
            attempts = _count(headers.get(HEADER_ATTEMPTS))
            return Delivery(
                event=body,
                routing_key=str(headers.get(HEADER_ROUTING_KEY) or routing_key_for(body)),
                attempts=attempts, fanout=attempts == 0 and not headers.get(HEADER_TARGETED),
                probe=probe, raw=message.body if self.recorder.recording else None,
            )
        except Exception as exc:
            # An error here would end the connection, and with it the acks of every delivery
            # in flight: the broker would send them all again, and this message first.
            self._park(producer, message, "notification dropped: not deliverable", exc,
                       error=f"not deliverable: {type(exc).__name__}")
            return None

    def _on_message(self, producer: Producer, generation: int, body: Any,
                    message: Message) -> None:
        if (message.headers or {}).get(HEADER_DELIVERY_COUNT):
            self._requeue_afresh(producer, message, body)
            return
        delivery = self._delivery(producer, body, message)
        if delivery is None:
            return
        self.inflight += 1
        self.acks.hold(message)
        self.pool.submit((generation, message, delivery))

    def _requeue_afresh(self, producer: Producer, message: Message, body: Any) -> None:
        """A quorum queue drops a message returned more often than its delivery limit (20 by
        default since RabbitMQ 4.0, or what an operator's policy sets), dead-lettering nothing
        of ours. Here a message only comes back when a notifier stopped or died holding it (a
        failed attempt is republished, never returned), which says nothing against the event:
        so a returned message is published again as a new one, its count starting over, and
        the returned copy acknowledged once the broker has confirmed the new one. It goes to
        the back of the queue."""
        returns = (message.headers or {}).get(HEADER_DELIVERY_COUNT)
        republish_afresh(producer, message, self.topology.requeue_exchange, self.endpoint.name)
        log.warning(kv("returned message requeued afresh", endpoint=self.endpoint.name,
                       id=body.get("id") if isinstance(body, dict) else None,
                       returns=returns))

    def _park_undecodable(self, producer: Producer, message: Message, exc: Exception) -> None:
        """A message that is not an event (wrong content type, broken JSON) would otherwise be
        redelivered forever: park it, as it came, in the dead-letter queue."""
        self._park(producer, message, "notification dropped: not an event", exc)

    def _park(self, producer: Producer, message: Message, reason: str, exc: Exception,
              error: str = "undecodable") -> None:
        log.error(kv(reason, endpoint=self.endpoint.name,
                     error=f"{type(exc).__name__}: {exc}"[:300]))
        producer.publish(
            message.body, exchange=self.topology.dead_exchange, routing_key=self.endpoint.name,
            content_type=message.content_type, content_encoding=message.content_encoding,
            headers={HEADER_ERROR: error}, delivery_mode=2, retry=False,
        )
        message.ack()

    def _run_pipeline(self, delivery: Delivery) -> Outcome:
        try:
            return self.pipeline.deliver(delivery)
        except Exception as exc:  # a bug must not lose the event: count it as a failed attempt
            log.exception(kv("notification pipeline error", endpoint=self.endpoint.name))
            return after_failure(self.endpoint, delivery,
                                 Failed(error=f"internal error: {type(exc).__name__}",
                                        error_class=INTERNAL))

    def _probe(self) -> None:
        """The one attempt an auto-paused endpoint gets per probe interval: the event at the
        head of its queue, delivered here on this thread. Delivered, the endpoint resumes;
        failed (:class:`Held`), the event goes back to the queue as it came."""
        try:
            connection = connect(self.config, purpose="consume", rounds=2)
        except Exception as exc:  # the broker is down: the next probe slot tries again
            log.warning(kv("probe failed", endpoint=self.endpoint.name,
                           error=f"{type(exc).__name__}: {exc}"))
            return
        try:
            producer = Producer(connection.channel(), serializer="json")
            queue_ = self.topology.endpoint_queue(self.endpoint.name)(connection.channel())
            message = queue_.get(no_ack=False)
            if message is None:
                return  # nothing to probe with: the next event is the next probe
            try:
                body = json.loads(message.body)
            except (ValueError, RecursionError) as exc:
                self._park_undecodable(producer, message, exc)
                return
            delivery = self._delivery(producer, body, message, probe=True)
            if delivery is None:
                return
            outcome = self._run_pipeline(delivery)
            if isinstance(outcome, Held):
                message.reject(requeue=True)
                self._settled(delivery, outcome)
            else:
                self._settle_one(producer, delivery, outcome)
                message.ack()
            self.gate.probed(outcome)
            log.info(kv("auto-paused endpoint probed", endpoint=self.endpoint.name,
                        result="delivered" if not isinstance(outcome, Held) else outcome.error))
        except Exception as exc:  # the broker is down: the next probe slot tries again
            log.warning(kv("probe failed", endpoint=self.endpoint.name,
                           error=f"{type(exc).__name__}: {exc}"))
        finally:
            try:
                connection.release()
            except Exception:  # a broken connection may fail to close
                pass

    def _settle(self, producer: Producer, generation: int, block: float = 0.0) -> None:
        settled: list[Message] = []
        while True:
            try:
                item = self.pool.done.get(timeout=block) if block else \
                    self.pool.done.get_nowait()
            except queue.Empty:
                break
            block = 0.0
            item_generation, message, delivery, outcome = item
            self.inflight -= 1
            if item_generation != generation:
                continue  # its channel is gone: the broker redelivers it
            self._settle_one(producer, delivery, outcome)
            settled.append(message)
        if settled:
            self.acks.ack(settled)

    def _settle_one(self, producer: Producer, delivery: Delivery, outcome: Outcome) -> None:
        """Publish what ``outcome`` leaves to do (a retry, a dead letter); the caller acks."""
        name = self.endpoint.name
        headers: dict[str, Any] = {HEADER_ROUTING_KEY: delivery.routing_key}
        if isinstance(outcome, RetryLater):
            step = step_for(self.endpoint, outcome.delay)
            headers[HEADER_ATTEMPTS] = outcome.attempts
            headers[HEADER_DUE] = time.time() + outcome.delay
            extra = {"expiration": outcome.delay} if self.topology.amqp else {}
            producer.publish(
                delivery.event, exchange=self.topology.delay_exchange,
                routing_key=self.topology.retry_routing_key(name, step), headers=headers,
                delivery_mode=2, retry=False, **extra,
            )
        elif isinstance(outcome, Dropped):
            headers[HEADER_ATTEMPTS] = outcome.attempts
            headers[HEADER_ERROR] = outcome.error
            if outcome.failed is not None:
                headers[HEADER_ERROR_CLASS] = outcome.failed.error_class or INTERNAL
                if outcome.failed.status is not None:
                    headers[HEADER_STATUS] = outcome.failed.status
            producer.publish(
                delivery.event, exchange=self.topology.dead_exchange, routing_key=name,
                headers=headers, delivery_mode=2, retry=False,
            )
        self._settled(delivery, outcome)

    def _settled(self, delivery: Delivery, outcome: Outcome) -> None:
        """The outcome's broker action is done: the history records it, the gate learns from it."""
        self.recorder.settled(self.endpoint.name, delivery, outcome)
        self.gate.observe(outcome)

    def _update_depths(self, connection: Connection) -> None:
        name = self.endpoint.name
        for gauge, q in ((QUEUE_DEPTH, self.topology.endpoint_queue(name)),
                         (DEADLETTER_DEPTH, self.topology.dead_queue(name))):
            try:
                gauge.labels(endpoint=name).set(queue_depth(connection, q))
            except Exception as exc:  # an empty Redis queue does not exist; leave the gauge
                log.debug(kv("queue depth unavailable", endpoint=name, error=exc))
