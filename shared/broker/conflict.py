"""Queues that exist on RabbitMQ with other arguments than ours (another queue type)."""

from __future__ import annotations

import re

from shared.logfmt import kv


class QueueConflict(Exception):
    """RabbitMQ refused to declare our queues: they exist with other arguments (PRECONDITION_FAILED,
    406), most likely another queue type, which can never change. Unlike an outage this does not
    heal by retrying: the queues must be deleted, or ``queuetype`` set back."""

    def __init__(self, queuetype: str, conflicts: list[tuple[str, str, str | None, str]]):
        # conflicts: (endpoint, queue, its type or None when not told, RabbitMQ's words)
        self.queuetype = queuetype
        self.conflicts = conflicts
        self.endpoints = [c[0] for c in conflicts]
        _, self.queue, self.existing, self.detail = conflicts[0]
        if self.existing:
            problem = f"exists as a {self.existing} queue, but notifications.broker.queuetype is " \
                      f"{queuetype}"
        else:
            problem = f"exists with other arguments than ours ({self.detail})"
        super().__init__(f"queue {self.queue} {problem}")

    def log_line(self, message: str, **extra: str) -> str:
        """One key=value line naming the queue and how to migrate."""
        name = self.endpoints[0] if len(self.endpoints) == 1 else "NAME"
        old = self.existing or "its old type"
        fix = (f"a queue's type cannot change: let notifiers still on queuetype={old} drain it, "
               f"stop them, disable the endpoint and run `registry queues CONFIG delete --endpoint "
               f"{name} --yes` (deletes what is left in its queues), then it is declared again as "
               f"{self.queuetype}; or set queuetype back to {old}")
        return kv(message, queue=self.queue, existing=self.existing or "other-arguments",
                  queuetype=self.queuetype, endpoints=",".join(self.endpoints), **extra, fix=fix,
                  error=None if self.existing else self.detail)


# RabbitMQ's words for a refused declare: "inequivalent arg 'x-queue-type' for queue 'q' in vhost
# '/': received the value 'quorum' of type 'longstr' but current is none" (3.10).
_INEQUIVALENT = re.compile(
    r"inequivalent arg '(?P<arg>[^']+)'.*current is (?:none|(?:the value )?'(?P<value>[^']*)')")
# Arguments we give quorum queues only. RabbitMQ checks x-overflow and x-dead-letter-strategy
# before x-queue-type, so for a retry queue these are what it names.
_QUORUM_ONLY = ("x-overflow", "x-dead-letter-strategy")


def existing_type(detail: str, wanted: str) -> str | None:
    """The type of the queue RabbitMQ refused to declare again, if its message tells."""
    match = _INEQUIVALENT.search(detail)
    if match is None:
        return None
    if match["arg"] == "x-queue-type":
        return match["value"] or "classic"  # no argument: RabbitMQ's default, classic
    if match["arg"] in _QUORUM_ONLY:
        if wanted == "quorum" and match["value"] is None:
            return "classic"
        if wanted == "classic" and match["value"] is not None:
            return "quorum"
    return None
