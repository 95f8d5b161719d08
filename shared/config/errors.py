"""The one exception an invalid configuration raises."""

from __future__ import annotations


class ConfigError(ValueError):
    """An invalid configuration; the message names the key."""

    def __init__(self, key: str, problem: str):
        super().__init__(f"configuration error: {key}: {problem}")
        self.key = key
