"""Which broker a config names: RabbitMQ, Redis or the embedded broker on local disk."""

from __future__ import annotations

from pathlib import Path

from shared.config import Config


def ignored_queue_type(config: Config) -> str | None:
    """The broker on which the configured ``queuetype`` means nothing (Redis, the embedded
    broker: one kind of queue), or None. The same config file may serve a dev setup on those, so
    this is a warning at start-up, not an error."""
    if config.notifications.broker.queuetype == "classic" or is_amqp(config):
        return None
    if embedded_directory(config) is not None:
        return "embedded"
    return (config.notifications.broker.url or "").split(":", 1)[0]



def embedded_directory(config: Config) -> Path | None:
    """The embedded broker's folder, or None for a network broker."""
    url = config.notifications.broker.url
    if url is None or url.startswith("filesystem:"):
        return config.broker_directory()
    return None


def is_amqp(config: Config) -> bool:
    url = config.notifications.broker.url or ""
    return url.split(":", 1)[0] in ("amqp", "amqps", "pyamqp")
