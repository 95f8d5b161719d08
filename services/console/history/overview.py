"""``/``: the front page. Over the last hour: events per minute, the share of attempts answered
2xx, p50/p95 from the event to its 2xx, the notifiers seen; and per endpoint what waits in the
broker (queued, retrying, dead) and what needs attention. Without a readable history the endpoint
part is still shown (the broker's counts), with the reason the figures are missing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.console.history.access import History
from services.console.history.endpoints import attention, endpoints, summary_json
from shared.config import Config
from shared.history.engine import HistoryUnavailable
from shared.history.views import Overview
from shared.operations.endpoints import EndpointSummary

WINDOW = 3600.0


@dataclass
class OverviewPage:
    figures: Overview | None
    endpoints: list[EndpointSummary]
    history_error: str | None  # why there are no figures

    @property
    def attention(self) -> list[tuple[str, list[str]]]:
        return [(s.name, reasons) for s in self.endpoints if (reasons := attention(s))]

    @property
    def busiest_minute(self) -> int:
        return max((n for _, n in self.figures.events_per_minute), default=0) \
            if self.figures else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "figures": self.figures.to_json() if self.figures else None,
            "history_error": self.history_error,
            "endpoints": [summary_json(s) for s in self.endpoints],
            "attention": [{"endpoint": name, "reasons": reasons}
                          for name, reasons in self.attention],
        }


def overview_page(config: Config, history: History) -> OverviewPage:
    from shared.history import overview

    figures, error = None, None
    try:
        figures = overview(history.require(), WINDOW)
    except HistoryUnavailable as exc:
        error = str(exc)
        history = History(None, error)  # not twice the wait for a database that is down
    return OverviewPage(figures, endpoints(config, history), error)
