"""Events leave the registry here: :func:`build_sink` gives the registry core its event sink."""

from __future__ import annotations

from shared.broker import enabled_endpoints
from shared.config import Config
from shared.events import EventSink, NullSink


def build_sink(config: Config) -> EventSink:
    """The broker publisher when any endpoint is enabled; otherwise events have nowhere to go.

    Cheap and connection-free: call it before or after gunicorn forks; connections are made on
    first use in each process.
    """
    if not enabled_endpoints(config):
        return NullSink()
    from services.registry.events.publisher import BrokerPublisher

    return BrokerPublisher(config)
