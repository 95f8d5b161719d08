"""Fixtures for the notification tests: brokers, receivers, deployments, notifier processes.

RabbitMQ and Redis are the machine's (``rabbitmq_url`` and ``redis_addr`` from tests/conftest.py
fail the test when missing); each test gets its own exchange and endpoint names, and removes its
queues afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.notifications.support import (
    Deployment,
    PrivateRabbit,
    PrivateRabbitCluster,
    Process,
    Receiver,
    TypedDeployment,
    start_notifier,
)


@pytest.fixture
def uid() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    made: list[Receiver] = []

    def make(**kwargs: Any) -> Receiver:
        receiver = Receiver(**kwargs)
        made.append(receiver)
        return receiver

    yield make
    for receiver in made:
        receiver.close()


@pytest.fixture
def deployments(tmp_path: Path) -> Iterator[Callable[..., Deployment]]:
    made: list[Deployment] = []

    def make(broker_url: str | None, endpoints: list[dict], name: str = "d", **kw: Any
             ) -> Deployment:
        deployment = Deployment(tmp_path / name, broker_url, endpoints, **kw)
        made.append(deployment)
        return deployment

    yield make
    for deployment in made:
        deployment.close()


@pytest.fixture
def notifiers() -> Iterator[Callable[..., Process]]:
    started: list[Process] = []

    def start(deployment: Deployment, name: str = "notifier", debug_port: int | None = None
              ) -> Process:
        process = start_notifier(deployment, name, debug_port)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def redis_url(redis_addr: str) -> str:
    return f"redis://{redis_addr}/7"


@pytest.fixture
def private_rabbit() -> Iterator[PrivateRabbit]:
    node = PrivateRabbit()
    node.start()
    yield node
    node.destroy()


@pytest.fixture
def rabbit_cluster() -> Iterator[PrivateRabbitCluster]:
    """Three private RabbitMQ nodes joined into one cluster; every node and the epmd stopped
    at the end, however the test (or the start) went."""
    cluster = PrivateRabbitCluster(3)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def typed(tmp_path: Path) -> Iterator[Callable[..., TypedDeployment]]:
    """Deployments whose config sets notifications.broker.queuetype (quorum unless told)."""
    made: list[TypedDeployment] = []

    def make(broker_url: str, endpoints: list[dict], queuetype: str = "quorum",
             name: str = "d") -> TypedDeployment:
        deployment = TypedDeployment(tmp_path / name, broker_url, endpoints, queuetype=queuetype)
        made.append(deployment)
        return deployment

    yield make
    for deployment in made:
        deployment.close()  # deletes its queues and exchanges, whatever their type
