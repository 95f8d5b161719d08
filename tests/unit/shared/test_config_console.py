"""The ``console`` section: defaults, values, and a clear error naming each bad key."""

import pytest

from shared.config import ConfigError, parse_config

STORAGE = {"storage": {"inmemory": {}}}


def config(console=None):
    return parse_config({**STORAGE, **({"console": console} if console is not None else {})})


def test_no_console_section_means_no_embedded_console_and_the_default_address():
    console = config().console
    assert console.addr is None
    assert console.listen_addr == ":5002"
    assert console.operators == ()


def test_console_values_are_read():
    console = config({
        "addr": "127.0.0.1:6002", "operators": ["alice", "carol"],
        "registry": "http://registry:5000/", "sessionttl": "30m", "workers": 2}).console
    assert console.listen_addr == "127.0.0.1:6002"
    assert console.is_operator("alice") and not console.is_operator("bob")
    assert not console.is_operator(None)
    assert console.registry == "http://registry:5000"
    assert console.sessionttl == 1800
    assert console.workers == 2


def test_console_keys_are_not_reported_as_ignored():
    parsed = config({"addr": ":5002", "operators": ["a"]})
    assert not [k for k in parsed.ignored_keys if k.startswith("console")]


@pytest.mark.parametrize("raw, key", [
    ({"addr": "5002"}, "console.addr"),
    ({"operators": "alice bob"}, "console.operators.0"),
    ({"operators": [["alice"]]}, "console.operators"),
    ({"registry": "registry:5000"}, "console.registry"),
    ({"registry": "ftp://registry"}, "console.registry"),
    ({"sessionttl": "soon"}, "console.sessionttl"),
    ({"sessionttl": 0}, "console.sessionttl"),
    ({"workers": 0}, "console.workers"),
])
def test_a_bad_console_value_names_its_key(raw, key):
    with pytest.raises(ConfigError) as err:
        config(raw)
    assert err.value.key == key


def test_the_environment_sets_the_console_address():
    from shared.config import load_config

    loaded = load_config(None, environ={"REGISTRY_CONSOLE_ADDR": ":7002",
                                        "REGISTRY_STORAGE_INMEMORY": "{}"})
    assert loaded.console.addr == ":7002"
