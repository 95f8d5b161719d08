"""The backoff schedule, Retry-After parsing, and what a failed attempt leads to."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from services.notifier.outcomes import Delivered, Delivery, Dropped, Failed, RetryLater
from services.notifier.retry import (
    JITTER,
    RetrySink,
    backoff_delay,
    nominal_backoff,
    parse_retry_after,
)
from shared.broker import retry_steps, step_for
from shared.config import EndpointConfig


def ep(**kw) -> EndpointConfig:
    kw.setdefault("backoff", 1.0)
    return EndpointConfig(name="e", url="http://x/", **kw)


def test_nominal_backoff_doubles_from_the_first_wait_up_to_the_cap():
    e = ep(backoff=1.0, maxbackoff=10.0)
    assert [nominal_backoff(e, n) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


def test_jitter_stays_below_the_nominal_wait_and_keeps_the_waits_growing():
    e = ep(backoff=0.05, maxbackoff=300.0)
    rng = random.Random(7)
    for _ in range(200):
        waits = [backoff_delay(e, n, rng=rng) for n in range(1, 6)]
        for n, wait in enumerate(waits, start=1):
            assert nominal_backoff(e, n) * (1 - JITTER) <= wait <= nominal_backoff(e, n)
        assert waits == sorted(waits)


def test_retry_after_wins_within_the_cap():
    e = ep(backoff=0.05, maxbackoff=5.0)
    assert backoff_delay(e, 1, retry_after=2.0) == 2.0
    assert backoff_delay(e, 1, retry_after=60.0) == 5.0


def test_parse_retry_after():
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    now = datetime(2026, 1, 1, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(later, now=now.timestamp()) == 30.0
    earlier = format_datetime(now - timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(earlier, now=now.timestamp()) == 0.0


def test_retry_steps_and_step_choice():
    e = ep(backoff=0.05, maxbackoff=1.0)
    assert retry_steps(e) == [0.05, 0.1, 0.2, 0.4, 0.8, 1.0]
    assert step_for(e, 0.045) == 0.05
    assert step_for(e, 0.3) == 0.4
    assert step_for(e, 99) == 1.0


def test_without_backoff_retries_come_at_once_unless_retry_after_asks_for_a_wait():
    e = ep(backoff=0.0, maxbackoff=10.0)
    assert retry_steps(e) == [0.0, 1.0, 2.0, 4.0, 8.0, 10.0]
    assert backoff_delay(e, 3) == 0.0
    assert step_for(e, backoff_delay(e, 3)) == 0.0
    wanted = backoff_delay(e, 3, retry_after=3.0)
    assert wanted == 3.0
    assert step_for(e, wanted) == 4.0  # never sooner than it said
    assert step_for(e, backoff_delay(e, 1, retry_after=60.0)) == 10.0  # within the cap


class Answers:
    def __init__(self, outcome):
        self.outcome = outcome

    def deliver(self, delivery):
        return self.outcome


def test_retry_sink_retries_until_threshold_then_drops():
    e = ep(threshold=3, backoff=0.05)
    sink = RetrySink(e, Answers(Failed("HTTP 500")))
    first = sink.deliver(Delivery({}, "manifest.push", attempts=0))
    assert isinstance(first, RetryLater) and first.attempts == 1
    second = sink.deliver(Delivery({}, "manifest.push", attempts=1))
    assert isinstance(second, RetryLater) and second.attempts == 2
    assert sink.deliver(Delivery({}, "manifest.push", attempts=2)) == Dropped(3, "HTTP 500")


def test_410_drops_after_one_attempt():
    sink = RetrySink(ep(threshold=10), Answers(Failed("HTTP 410 Gone", status=410, gone=True)))
    assert sink.deliver(Delivery({}, "manifest.push")) == Dropped(1, "HTTP 410 Gone")


def test_success_passes_through():
    assert RetrySink(ep(), Answers(Delivered(204))).deliver(Delivery({}, "x.y")) == Delivered(204)
