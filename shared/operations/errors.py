"""The one exception an operator action raises when it cannot be done."""

from __future__ import annotations


class OperationError(Exception):
    """An action refused or impossible (unknown endpoint, event not in the history, broker
    unreachable); the message is for the operator. ``status``: the command's exit status."""

    def __init__(self, message: str, status: int = 1):
        super().__init__(message)
        self.status = status
