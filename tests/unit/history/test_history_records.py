"""The history's small rules: masking, error classes, the head revision, config."""

from __future__ import annotations

import pytest

from shared.config import ConfigError, parse_config
from shared.history.engine import HEAD_REVISION, head_revision, normalise_url, safe_url
from shared.history.records import error_class_of, mask_headers
from shared.history.views import iso


def test_configured_headers_and_signatures_are_masked_names_kept():
    headers = {"Content-Type": "application/json", "authorization": "Bearer x",
               "X-Api-Key": "k", "webhook-signature": "v1,abc", "webhook-id": "e1"}
    assert mask_headers(headers, ["X-API-KEY"]) == {
        "Content-Type": "application/json", "authorization": "***", "X-Api-Key": "***",
        "webhook-signature": "***", "webhook-id": "e1"}


@pytest.mark.parametrize("error, expected", [
    ("HTTP 503 Service Unavailable", "status"), ("dns error: Could not resolve host", "dns"),
    ("connection error: Failed to connect", "connect"), ("tls error: bad cert", "tls"),
    ("timeout: Operation timed out", "timeout"), ("internal error: KeyError", "internal"),
    (None, None), ("something else", None)])
def test_error_class_of_a_dead_letters_error_text(error, expected):
    assert error_class_of(error) == expected


def test_the_head_revision_constant_is_the_newest_migration():
    assert head_revision() == HEAD_REVISION


def test_urls_use_psycopg_and_never_show_the_password():
    assert normalise_url("postgres://u:pw@db/x") == "postgresql+psycopg://u:pw@db/x"
    assert normalise_url("sqlite:////tmp/h.db") == "sqlite:////tmp/h.db"
    assert "pw" not in safe_url("postgresql://u:pw@db:5432/x")


def test_iso_times_are_utc_milliseconds():
    assert iso(0.0) == "1970-01-01T00:00:00.000Z"
    assert iso(1.9996) == "1970-01-01T00:00:02.000Z"
    assert iso(None) is None


BASE = {"version": 0.1, "storage": {"filesystem": {"rootdirectory": "/tmp/r"}}}


def test_history_config_defaults_and_the_sqlite_file_in_the_state_directory():
    config = parse_config(dict(BASE))
    assert (config.history.url, config.history.retention, config.history.maxbodybytes) == (
        None, 168 * 3600, 4096)
    assert config.history_url() == "sqlite:////tmp/r/_notifications/history.db"
    assert config.ignored_keys == ()


def test_history_config_reads_the_issues_keys_and_autopause(monkeypatch):
    monkeypatch.setenv("HISTORY_URL", "postgresql://u:pw@db:5432/registry")
    config = parse_config({**BASE, "notifications": {
        "history": {"url": "${env:HISTORY_URL}", "retention": "24h", "maxbodybytes": 100},
        "endpoints": [{"name": "a", "url": "http://a/", "autopause": "5m"},
                      {"name": "b", "url": "http://b/", "autopause": 0},
                      {"name": "c", "url": "http://c/"}]}})
    assert config.history.url == "postgresql://u:pw@db:5432/registry"
    assert (config.history.retention, config.history.maxbodybytes) == (86400, 100)
    assert [e.autopause for e in config.notifications.endpoints] == [300, 0, 1800]
    assert config.ignored_keys == ()


@pytest.mark.parametrize("history, key", [
    ({"url": "mysql://db/x"}, "notifications.history.url"),
    ({"retention": "soon"}, "notifications.history.retention"),
    ({"maxbodybytes": -1}, "notifications.history.maxbodybytes"),
])
def test_a_bad_history_value_names_its_key(history, key):
    with pytest.raises(ConfigError) as raised:
        parse_config({**BASE, "notifications": {"history": history}})
    assert raised.value.key == key


def test_building_the_command_line_leaves_prometheus_client_unimported():
    # `registry serve` sets up its multiprocess metrics folder after parsing its arguments, and
    # prometheus_client reads that setting when first imported: the history and operations
    # modules (their metrics) must load only in the commands that use them.
    import subprocess
    import sys

    code = ("import sys; from services.cli import build_parser; build_parser(); "
            "assert 'prometheus_client' not in sys.modules, 'imported'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
