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


CONTROL_VALUES = ["a\nb", "a\rb", "a\x1b[31mred", "a\u2028b", "a\x85b", "a\x7fb", "a\x00b",
                  "a\x0bb\x0cc"]


def _unprintable(line: str) -> list[str]:
    return [c for c in line if c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
            or ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f]


def test_kv_escapes_every_control_character_and_keeps_the_value_readable():
    import json

    for value in CONTROL_VALUES:
        line = kv("http request", path=value)
        assert not _unprintable(line), (value, line)
        quoted = line.split("path=", 1)[1]
        assert json.loads(quoted) == value  # escaped, not lost


def test_formatter_escapes_control_characters_in_a_message_given_whole():
    # gunicorn's own lines (and any library's) arrive as one formatted string.
    forged = "Invalid request\n2026-01-01T00:00:00.000Z INFO forged line\r\x1b[2K"
    record = logging.LogRecord("gunicorn.error", logging.WARNING, __file__, 1, forged, None, None)
    line = KeyValueFormatter().format(record)
    assert not _unprintable(line), line
    assert "Invalid request\\n2026-01-01" in line
