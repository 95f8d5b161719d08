"""notifications.broker.queuetype: the config key, the queue arguments it gives, and how a refused
declare (a queue of another type) is read."""

from __future__ import annotations

import pytest

from shared.broker import QueueConflict, ignored_queue_type, topology_for
from shared.broker.conflict import existing_type
from shared.config import ConfigError, EndpointConfig, load_config, parse_config

BASE = {"version": 0.1, "storage": {"filesystem": {"rootdirectory": "/tmp/r"}}}
RABBIT = "amqp://guest:guest@rabbit:5672//"


def cfg(**broker):
    return parse_config({**BASE, "notifications": {"broker": broker}})


def test_queuetype_defaults_to_classic():
    assert cfg().notifications.broker.queuetype == "classic"
    assert cfg(url=RABBIT).notifications.broker.queuetype == "classic"


@pytest.mark.parametrize("value, expected", [("classic", "classic"), ("quorum", "quorum"),
                                             ("Quorum", "quorum")])
def test_queuetype_takes_classic_or_quorum(value, expected):
    config = cfg(url=RABBIT, queuetype=value)
    assert config.notifications.broker.queuetype == expected
    assert config.ignored_keys == ()


@pytest.mark.parametrize("value", ["stream", "mirrored", "", 3, True, ["quorum"]])
def test_any_other_queuetype_is_an_error_naming_the_key(value):
    with pytest.raises(ConfigError) as err:
        cfg(url=RABBIT, queuetype=value)
    assert err.value.key == "notifications.broker.queuetype"
    assert "notifications.broker.queuetype" in str(err.value)


def test_queuetype_from_the_environment(tmp_path):
    path = tmp_path / "config.yml"
    path.write_text("storage: {filesystem: {rootdirectory: /tmp/r}}\n")
    config = load_config(path, environ={"REGISTRY_NOTIFICATIONS_BROKER_URL": RABBIT,
                                        "REGISTRY_NOTIFICATIONS_BROKER_QUEUETYPE": "quorum"})
    assert config.notifications.broker.queuetype == "quorum"


def _arguments(topology, endpoint: EndpointConfig) -> dict[str, dict | None]:
    queues = [topology.endpoint_queue(endpoint.name), topology.dead_queue(endpoint.name),
              *topology.retry_queues(endpoint)]
    for queue in queues:
        assert queue.durable and not queue.auto_delete and not queue.exclusive
    return {q.name: q.queue_arguments for q in queues}


def test_quorum_on_rabbitmq_declares_every_queue_quorum_and_retries_dead_letter_at_least_once():
    endpoint = EndpointConfig(name="ci", url="http://x/", backoff=1.0, maxbackoff=4.0)
    topology = topology_for(cfg(url=RABBIT, queuetype="quorum"))
    assert topology.quorum
    arguments = _arguments(topology, endpoint)
    assert arguments.pop("registry.notifications.ci") == {"x-queue-type": "quorum"}
    assert arguments.pop("registry.notifications.ci.dead") == {"x-queue-type": "quorum"}
    assert sorted(arguments) == [f"registry.notifications.ci.retry.{ms}ms" for ms in (1000, 2000, 4000)]
    assert arguments["registry.notifications.ci.retry.2000ms"] == {
        "x-queue-type": "quorum",
        "x-message-ttl": 2000,
        "x-dead-letter-exchange": "registry.events.requeue",
        "x-dead-letter-routing-key": "ci",
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


def test_classic_declares_what_it_always_did():
    # Existing classic queues were declared without x-queue-type: any new argument would make
    # RabbitMQ refuse them.
    endpoint = EndpointConfig(name="ci", url="http://x/", backoff=1.0, maxbackoff=2.0)
    arguments = _arguments(topology_for(cfg(url=RABBIT)), endpoint)
    assert arguments == {
        "registry.notifications.ci": None,
        "registry.notifications.ci.dead": None,
        "registry.notifications.ci.retry.1000ms": {
            "x-message-ttl": 1000, "x-dead-letter-exchange": "registry.events.requeue",
            "x-dead-letter-routing-key": "ci"},
        "registry.notifications.ci.retry.2000ms": {
            "x-message-ttl": 2000, "x-dead-letter-exchange": "registry.events.requeue",
            "x-dead-letter-routing-key": "ci"},
    }


@pytest.mark.parametrize("broker, name", [
    ({}, "embedded"),
    ({"url": "filesystem://"}, "embedded"),
    ({"url": "redis://redis:6379/0"}, "redis"),
])
def test_quorum_means_nothing_on_redis_or_the_embedded_broker(broker, name):
    config = cfg(queuetype="quorum", **broker)
    assert ignored_queue_type(config) == name
    topology = topology_for(config)
    assert not topology.quorum
    assert topology.endpoint_queue("ci").queue_arguments is None
    assert ignored_queue_type(cfg(**broker)) is None  # classic: nothing to say


def test_quorum_on_rabbitmq_is_not_ignored():
    assert ignored_queue_type(cfg(url=RABBIT, queuetype="quorum")) is None


# RabbitMQ 3.10's words, as the integration tests met them.
CLASSIC_ASKED_QUORUM = ("PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'q' in "
                        "vhost '/': received the value 'quorum' of type 'longstr' but current is none")
QUORUM_ASKED_CLASSIC = ("PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'q' in "
                        "vhost '/': received none but current is the value 'quorum' of type 'longstr'")
RETRY_CLASSIC_ASKED_QUORUM = ("PRECONDITION_FAILED - inequivalent arg 'x-overflow' for queue 'q' in "
                              "vhost '/': received the value 'reject-publish' of type 'longstr' but "
                              "current is none")
RETRY_QUORUM_ASKED_CLASSIC = ("PRECONDITION_FAILED - inequivalent arg 'x-dead-letter-strategy' for "
                              "queue 'q' in vhost '/': received none but current is the value "
                              "'at-least-once' of type 'longstr'")
OTHER = ("PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue 'q' in vhost '/': "
         "received the value '1000' of type 'signedint' but current is the value '5' of type 'long'")


@pytest.mark.parametrize("detail, wanted, existing", [
    (CLASSIC_ASKED_QUORUM, "quorum", "classic"),
    (QUORUM_ASKED_CLASSIC, "classic", "quorum"),
    ("PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'q' in vhost '/': "
     "received 'classic' but current is 'stream'", "classic", "stream"),
    (RETRY_CLASSIC_ASKED_QUORUM, "quorum", "classic"),
    (RETRY_QUORUM_ASKED_CLASSIC, "classic", "quorum"),
    (OTHER, "quorum", None),
    ("something else entirely", "quorum", None),
])
def test_the_existing_type_is_read_from_rabbitmqs_refusal(detail, wanted, existing):
    assert existing_type(detail, wanted) == existing


def test_a_conflict_names_the_queue_its_type_and_the_way_out():
    exc = QueueConflict("quorum", [("ci", "registry.notifications.ci", "classic", CLASSIC_ASKED_QUORUM),
                                   ("audit", "registry.notifications.audit", "classic", "x")])
    assert str(exc) == ("queue registry.notifications.ci exists as a classic queue, but "
                        "notifications.broker.queuetype is quorum")
    line = exc.log_line("broker queue exists with another type")
    assert line.startswith("broker queue exists with another type queue=registry.notifications.ci "
                           "existing=classic queuetype=quorum endpoints=ci,audit ")
    assert "registry queues CONFIG delete --endpoint NAME --yes" in line
    assert "disable the endpoint" in line and "set queuetype back to classic" in line
    assert "\n" not in line
    one = QueueConflict("quorum", [("ci", "registry.notifications.ci", "classic", "x")])
    assert "--endpoint ci --yes" in one.log_line("m")


def test_a_conflict_of_other_arguments_says_rabbitmqs_words():
    exc = QueueConflict("quorum", [("ci", "registry.notifications.ci.retry.1000ms", None, OTHER)])
    assert "exists with other arguments than ours" in str(exc)
    line = exc.log_line("m")
    assert "existing=other-arguments" in line and "x-message-ttl" in line
