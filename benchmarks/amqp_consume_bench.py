"""CPU per message of consuming and acknowledging through kombu's py-amqp transport, and
through ours that reads the socket in large pieces (``shared/broker/amqp_transport.py``).

    .venv/bin/python benchmarks/amqp_consume_bench.py [--messages 20000] [--rounds 3]

Fills a scratch queue on the machine's RabbitMQ (``--url``) with event-sized JSON messages,
then consumes them as a notifier does (prefetch 8, one ack per message, a 2 ms drain timeout)
and prints the consumer's CPU time per message and its rate, alternating the two transports
round by round. The queue and exchange are deleted at the end.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from kombu import Connection, Consumer, Exchange, Producer, Queue

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from shared.broker.amqp_transport import BufferedAmqpTransport  # noqa: E402

EXCHANGE = Exchange("scratch.amqp-consume-bench", type="direct", durable=False)
QUEUE = Queue("scratch.amqp-consume-bench", exchange=EXCHANGE, routing_key="k", durable=False)
BODY = {"id": "0" * 36, "timestamp": "2026-12-03T08:00:00.000000000Z", "action": "push",
        "target": {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                   "digest": "sha256:" + "a" * 64, "size": 700, "repository": "bench/drain"},
        "request": {"id": "r", "addr": "127.0.0.1:1234", "method": "PUT", "useragent": "ua"},
        "source": {"addr": "host:5000"}}


def fill(url: str, count: int) -> None:
    with Connection(url) as connection:
        QUEUE(connection.channel()).declare()
        QUEUE(connection.channel()).purge()
        producer = Producer(connection.channel(), serializer="json")
        for _ in range(count):
            producer.publish(BODY, exchange=EXCHANGE, routing_key="k",
                             headers={"x-attempts": 0, "x-routing-key": "manifest.push"})


def consume(url: str, count: int, transport: type | None) -> tuple[float, float]:
    """(CPU microseconds per message, messages per second)."""
    options = {"transport": transport} if transport else {}
    received = 0

    def on_message(_body: dict, message) -> None:
        nonlocal received
        received += 1
        message.ack()

    with Connection(url, **options) as connection:
        cpu, wall = time.process_time(), time.perf_counter()
        with Consumer(connection.channel(), queues=[QUEUE], callbacks=[on_message],
                      accept=["json"], prefetch_count=8):
            while received < count:
                try:
                    connection.drain_events(timeout=0.002 if received else 5)
                except TimeoutError:
                    pass
        return ((time.process_time() - cpu) / count * 1e6,
                count / (time.perf_counter() - wall))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="amqp://guest:guest@127.0.0.1:5672//")
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    try:
        for _ in range(args.rounds):
            for name, transport in (("py-amqp", None), ("buffered", BufferedAmqpTransport)):
                fill(args.url, args.messages)
                cpu, rate = consume(args.url, args.messages, transport)
                print(f"{name:9s} {cpu:6.1f} us CPU per message  {rate:7.0f} messages/s",
                      flush=True)
    finally:
        with Connection(args.url) as connection:
            QUEUE(connection.channel()).delete()
            EXCHANGE(connection.channel()).delete()
    return 0


if __name__ == "__main__":
    sys.exit(main())
