"""What an operator does, callable from shared code: the ``registry deliveries``, ``registry
endpoints`` and ``registry deadletter`` commands and the web console are thin callers of these.

- :mod:`~shared.operations.deliveries`: ``resend_one``, ``count_range``/``resend_range``
  (a :class:`~shared.operations.deliveries.DeliveryRange`), ``count_backfill``/``backfill``.
- :mod:`~shared.operations.endpoints`: ``list_endpoints`` (EndpointSummary), ``pause_endpoint``,
  ``resume_endpoint``, ``send_test_event``, ``wait_for_attempt``.
- :mod:`~shared.operations.deadletters`: ``list_dead_letters``, ``replay_dead_letters``,
  ``purge_dead_letters`` (a :class:`~shared.operations.deadletters.DeadLetterFilter`).
- :mod:`~shared.operations.queue_counts`: events waiting per endpoint queue.

A refused or impossible action raises :class:`~shared.operations.errors.OperationError` (its
message is for the operator, its ``status`` the command's exit status).
"""

from shared.operations.errors import OperationError

__all__ = ["OperationError"]
