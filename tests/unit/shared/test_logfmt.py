import logging

from shared.logfmt import KeyValueFormatter, kv


def test_kv_renders_one_line_with_quoted_values():
    line = kv("notification failed", endpoint="ci", error="connection refused", attempt=2)
    assert line == 'notification failed endpoint=ci error="connection refused" attempt=2'


def test_kv_leaves_out_absent_fields():
    assert kv("notification sent", endpoint="a", tag=None) == "notification sent endpoint=a"


def test_formatter_puts_level_and_static_fields_on_the_line():
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, kv("notification dropped",
                               endpoint="a", attempts=10), None, None)
    line = KeyValueFormatter({"service": "registry"}).format(record)
    assert " ERROR notification dropped endpoint=a attempts=10 service=registry" in line
    assert "\n" not in line
