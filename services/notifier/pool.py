"""The threads that run one endpoint's deliveries."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from kombu.message import Message

from services.notifier.outcomes import Delivery, Outcome


class DeliveryPool:
    """``size`` threads running deliveries handed in by the consumer thread; outcomes come back
    on :attr:`done`. Both hand-offs are C-level ``SimpleQueue``s: a ThreadPoolExecutor's
    Future (condition, callbacks) plus a ``queue.Queue`` (pure-Python condition) cost a notifier
    draining a backlog a measurable share of its CPU, and a backlog drain is CPU-bound."""

    def __init__(self, name: str, size: int, run: Callable[[Delivery], Outcome]):
        self.run = run
        self.work: queue.SimpleQueue = queue.SimpleQueue()
        self.done: queue.SimpleQueue = queue.SimpleQueue()
        self.threads = [threading.Thread(target=self._work, name=f"deliver-{name}_{i}",
                                         daemon=True) for i in range(size)]
        for thread in self.threads:
            thread.start()

    def submit(self, item: tuple[int, Message, Delivery]) -> None:
        self.work.put(item)

    def _work(self) -> None:
        while (item := self.work.get()) is not None:
            generation, message, delivery = item
            self.done.put((generation, message, delivery, self.run(delivery)))

    def drop_waiting(self) -> int:
        """Drop the deliveries not started (unacknowledged: the broker redelivers them); how
        many there were."""
        dropped = 0
        try:
            while True:
                if self.work.get_nowait() is not None:
                    dropped += 1
        except queue.Empty:
            return dropped

    def shutdown(self) -> None:
        self.drop_waiting()
        for _ in self.threads:
            self.work.put(None)
