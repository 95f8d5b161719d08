"""The seam for the delivery history (issue 16): what the console asks of it.

Phase 1 has no history store, so :class:`NoHistory` answers "not known" everywhere and the
pages drawn on the history say "not available yet". Phase 2 gives :func:`build_history` a
reader of the shared history store that answers the same questions (and the pages of ``/``,
``/events``, ``/endpoints``, ``/deliveries`` and ``/deadletters`` their data).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from shared.config import Config


class History(Protocol):
    available: bool

    def last_push(self, repository: str) -> datetime | None: ...

    def tag_pushed(self, repository: str, tag: str) -> datetime | None: ...

    def deliveries_for_tag(self, repository: str, tag: str) -> list[dict[str, Any]]: ...


class NoHistory:
    """No delivery history in this build: nothing is known, and the pages say so."""

    available = False

    def last_push(self, repository: str) -> datetime | None:
        return None

    def tag_pushed(self, repository: str, tag: str) -> datetime | None:
        return None

    def deliveries_for_tag(self, repository: str, tag: str) -> list[dict[str, Any]]:
        return []


def build_history(config: Config) -> History:
    return NoHistory()
