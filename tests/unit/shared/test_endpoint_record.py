"""Which endpoints count as removed from the config, by the broker's record of them."""

from shared.broker.endpoint_record import REMOVED_AFTER, _merge, removed

NOW = 10_000.0


def test_an_endpoint_no_notifier_has_had_for_long_is_removed():
    record = {"kept": NOW, "old": NOW - REMOVED_AFTER, "older": NOW - 5 * REMOVED_AFTER}
    assert removed(record, ["kept"], now=NOW) == ["old", "older"]


def test_an_endpoint_a_notifier_had_lately_is_not_removed_yet():
    # A rolling update: notifiers on the old config still stamp it.
    assert removed({"kept": NOW, "leaving": NOW - REMOVED_AFTER + 1}, ["kept"], now=NOW) == []


def test_a_configured_endpoint_is_never_removed_whatever_its_stamp():
    assert removed({"kept": NOW - 10 * REMOVED_AFTER}, ["kept"], now=NOW) == []


def test_merging_keeps_the_latest_stamp_and_ignores_what_is_not_a_record():
    assert _merge([{"a": 1.0, "b": 5}, {"a": 3.0}, None, ["x"], {"c": "soon", 7: 1.0}]) == {
        "a": 3.0, "b": 5.0}
