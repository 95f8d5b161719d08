"""An endpoint's pipeline, outermost first: filter -> report -> retry -> HTTP send.

What comes out is settled by the consumer, which hands it to the history
(:mod:`services.notifier.recording`) and the pause gate (:mod:`services.notifier.pausing`).
"""

from __future__ import annotations

from services.notifier.delivery import HttpSink
from services.notifier.filters import FilterSink
from services.notifier.outcomes import Sink
from services.notifier.report import ReportSink
from services.notifier.retry import RetrySink
from shared.config import EndpointConfig


def build_pipeline(endpoint: EndpointConfig, record: bool = False, max_body: int = 4096) -> Sink:
    """``record``: the HTTP stage describes each attempt for the history."""
    http = HttpSink(endpoint, record=record, max_body=max_body)
    return FilterSink(endpoint, ReportSink(endpoint.name, RetrySink(endpoint, http)))
