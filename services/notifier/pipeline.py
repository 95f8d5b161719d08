"""An endpoint's pipeline, outermost first: filter -> report -> retry -> HTTP send."""

from __future__ import annotations

from services.notifier.delivery import HttpSink
from services.notifier.filters import FilterSink
from services.notifier.outcomes import Sink
from services.notifier.report import ReportSink
from services.notifier.retry import RetrySink
from shared.config import EndpointConfig


def build_pipeline(endpoint: EndpointConfig) -> Sink:
    return FilterSink(endpoint, ReportSink(endpoint.name, RetrySink(endpoint, HttpSink(endpoint))))
