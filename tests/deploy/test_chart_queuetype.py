"""broker.queueType in the Helm chart: it reaches both containers' config as
notifications.broker.queuetype, production sets quorum, and the schema takes nothing else."""

from __future__ import annotations

import pytest

from tests.deploy import chart as c
from tests.deploy.test_chart import INLINE, USER_SECRETS, check_pod_config, production


@pytest.fixture(scope="module")
def chart():
    with c.load_chart() as loaded:
        yield loaded


@pytest.mark.parametrize("values, secrets, expected", [
    (production, USER_SECRETS, "quorum"),
    (lambda: INLINE, {"api-keys": {"ci": "k"}}, "classic"),
    (lambda: dict(INLINE, broker={**INLINE["broker"], "queueType": "quorum"}),
     {"api-keys": {"ci": "k"}}, "quorum"),
])
def test_queue_type_reaches_registry_and_notifier(chart, tmp_path, values, secrets, expected):
    objects = c.render(chart, values())
    secrets = c.secret_data(objects, secrets)
    for name in ("registry", "registry-notifier"):
        config, _ = check_pod_config(objects, name, secrets, tmp_path / name)
        assert config.notifications.broker.queuetype == expected
        assert config.ignored_keys == ()


def test_values_schema_takes_classic_or_quorum_only(chart):
    for good in ("classic", "quorum"):
        chart.validate_schema({"broker": {"queueType": good}})
    for bad in ("mirrored", "Quorum", "", 1):
        with pytest.raises(c.helm().HelmValuesError):
            chart.validate_schema({"broker": {"queueType": bad}})
