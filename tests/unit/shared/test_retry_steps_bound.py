"""Finding an endpoint's retry queues of every backoff step from the delay exchange's bindings
(Redis and the embedded broker), so retries of an earlier backoff are still moved on."""

from __future__ import annotations

from shared.broker import Topology, retry_queue_name


class Bindings:
    """A virtual transport's channel, as far as reading a binding table goes."""

    def __init__(self, exchange: str, entries: list[tuple[str, str, str]]):
        self.exchange = exchange
        self.entries = entries

    def get_table(self, exchange: str) -> list[tuple[str, str, str]]:
        return self.entries if exchange == self.exchange else []


def test_every_bound_step_of_the_endpoint_shortest_first_and_no_other_endpoints():
    topology = Topology("events", amqp=False)
    channel = Bindings("events.delay", [
        ("a.4000", "", retry_queue_name("a", 4.0)),
        ("a.100", "", retry_queue_name("a", 0.1)),
        ("a.b.100", "", retry_queue_name("a.b", 0.1)),  # endpoint "a.b", not "a"
        ("ab.100", "", retry_queue_name("ab", 0.1)),
        ("a.100", "", "registry.notifications.a"),  # not a retry queue's name
        ("a.²", "", "registry.notifications.a.retry.²ms"),
    ])
    assert topology.bound_retry_queues(channel, "a") == [retry_queue_name("a", 0.1),
                                                         retry_queue_name("a", 4.0)]
    assert topology.bound_retry_queues(channel, "a.b") == [retry_queue_name("a.b", 0.1)]
    assert topology.bound_retry_queues(channel, "c") == []


def test_rabbitmq_retry_queues_dead_letter_by_themselves():
    channel = Bindings("events.delay", [("a.100", "", retry_queue_name("a", 0.1))])
    assert Topology("events", amqp=True).bound_retry_queues(channel, "a") == []
