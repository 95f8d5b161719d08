"""broker.url in the Helm chart names one node or a RabbitMQ cluster's: given inline as a list
(the chart's Secret holds them in kombu's failover form) or in the user's Secret as that string,
both containers' config has every node, and the schema takes nothing else."""

from __future__ import annotations

import pytest

from tests.deploy import chart as c
from tests.deploy.test_chart import INLINE, USER_SECRETS, check_pod_config, production

NODES = tuple(f"amqp://registry:pw@rabbitmq-{i}.rabbitmq-nodes.messaging.svc:5672/registry"
              for i in range(3))


@pytest.fixture(scope="module")
def chart():
    with c.load_chart() as loaded:
        yield loaded


@pytest.mark.parametrize("values, secrets", [
    (production, {**USER_SECRETS, "registry-broker": {"url": ";".join(NODES)}}),
    (lambda: dict(INLINE, broker={**INLINE["broker"], "url": list(NODES)}),
     {"api-keys": {"ci": "k"}}),
    (lambda: dict(INLINE, broker={**INLINE["broker"], "url": ";".join(NODES)}),
     {"api-keys": {"ci": "k"}}),
])
def test_every_node_reaches_registry_and_notifier(chart, tmp_path, values, secrets):
    objects = c.render(chart, values())
    secrets = c.secret_data(objects, secrets)
    for name in ("registry", "registry-notifier"):
        config, _ = check_pod_config(objects, name, secrets, tmp_path / name)
        assert config.notifications.broker.nodes == NODES
        assert config.ignored_keys == ()


def test_values_schema_takes_one_url_or_a_clusters_nodes(chart):
    for good in ("", NODES[0], "redis://redis:6379/0", ";".join(NODES), list(NODES), [NODES[0]]):
        chart.validate_schema({"broker": {"url": good}})
    for bad in ("kafka://k:9092", "rabbitmq-0:5672", f"{NODES[0]};redis://r:6379/0",
                f"{NODES[0]};rabbit-1", [], [NODES[0], "redis://r:6379/0"], [NODES[0], 5],
                [";".join(NODES)]):
        with pytest.raises(c.helm().HelmValuesError):
            chart.validate_schema({"broker": {"url": bad}})
