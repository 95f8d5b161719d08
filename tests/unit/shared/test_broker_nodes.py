"""notifications.broker.url names one broker node, or the nodes of a RabbitMQ cluster: as a YAML
list or in kombu's failover form (``amqp://n1;amqp://n2``), from the file or the environment.
Each node is checked at start, and none's password reaches a log line."""

import pytest

from shared.config import ConfigError, load_config, parse_config

BASE = {"version": 0.1, "storage": {"filesystem": {"rootdirectory": "/tmp/r"}}}
N1, N2, N3 = (f"amqp://registry:s3cret{i}@rabbit-{i}:5672/registry" for i in (1, 2, 3))


def broker(url):
    return parse_config({**BASE, "notifications": {"broker": {"url": url}}}).notifications.broker


@pytest.mark.parametrize("url", [[N1, N2, N3], f"{N1};{N2};{N3}", f" {N1} ; {N2};{N3};"])
def test_a_list_or_the_failover_form_names_every_node_in_order(url):
    b = broker(url)
    assert b.nodes == (N1, N2, N3)
    assert b.url == N1  # the first node: its scheme tells which broker
    assert not b.embedded and not b.redis


@pytest.mark.parametrize("url, nodes", [
    ("amqp://guest:guest@rabbit:5672//", ("amqp://guest:guest@rabbit:5672//",)),
    ("redis://redis:6379/0", ("redis://redis:6379/0",)),
    (None, ()), ("", ()), ([], ()),
])
def test_one_node_or_none(url, nodes):
    b = broker(url)
    assert b.nodes == nodes
    assert b.embedded == (nodes == ())


@pytest.mark.parametrize("environ", [
    {"REGISTRY_NOTIFICATIONS_BROKER_URL": f"{N1};{N2};{N3}"},
    {"REGISTRY_NOTIFICATIONS_BROKER_URL": f"[{N1}, {N2}, {N3}]"},  # values are read as YAML
])
def test_the_environment_overrides_the_nodes_in_either_form(tmp_path, environ):
    path = tmp_path / "config.yml"
    path.write_text("storage:\n  filesystem:\n    rootdirectory: /r\n"
                    "notifications:\n  broker:\n    url: amqp://file:pw@elsewhere//\n")
    assert load_config(path, environ=environ).notifications.broker.nodes == (N1, N2, N3)


@pytest.mark.parametrize("url, says", [
    ([N1, "kafka://k:9092"], "unsupported broker scheme 'kafka'"),
    (f"{N1};rabbit-2", "unsupported broker scheme ''"),
    ([N1, "redis://redis:6379/0"], "one kind, got rabbitmq and redis"),
    ("redis://r1:6379/0;redis://r2:6379/0", "redis takes one URL"),
    ([N1, {"url": N2}], "expected a URL, several separated by ';', or a list of URLs"),
    ({"nodes": [N1]}, "expected a URL"),
])
def test_a_bad_node_stops_start_up_naming_the_key_and_never_the_password(url, says):
    with pytest.raises(ConfigError) as err:
        broker(url)
    assert err.value.key == "notifications.broker.url"
    assert says in str(err.value)
    assert "s3cret" not in str(err.value)


def test_the_broker_in_a_log_line_masks_every_nodes_password():
    shown = broker(f"{N1};{N2};amqp://rabbit-4:5672//").display
    assert "s3cret" not in shown
    assert shown.split(",") == ["amqp://registry:**@rabbit-1:5672/registry",
                                "amqp://registry:**@rabbit-2:5672/registry",
                                "amqp://rabbit-4:5672//"]
    assert broker(None).display == "embedded"
