"""Each start of ``registry serve`` makes a fresh multiprocess metrics folder in the temporary
directory (its workers add up there); a clean stop removes it, so restarts do not pile them up.
``registry notifier``, one process, keeps its metrics in memory and makes no folder."""

from __future__ import annotations

import pytest
from kombu import Connection

from tests.integration.metrics.live import Process, serve_config

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("command", ["serve", "notifier"])
def test_a_stopped_process_leaves_no_metrics_folder(tmp_path, rabbitmq_url, command):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    config = serve_config(tmp_path / "root")
    if command == "notifier":
        # A notifier needs a broker and an endpoint to consume for.
        config["notifications"] = {
            "broker": {"url": rabbitmq_url, "exchange": f"folder-{tmp_path.name}.events"},
            "endpoints": [{"name": f"folder-{tmp_path.name}", "url": "http://127.0.0.1:9/hook",
                           "disabled": True}],
        }
    process = Process(command, config, tmp_path, command, env={"TMPDIR": str(tmpdir)})
    process.start()
    try:
        folders = [p.name[:17] for p in tmpdir.iterdir()]
        scraped = process.scrape()
        if command == "serve":
            assert folders == ["registry-metrics-"]
            assert "registry_http_requests_total" in scraped
        else:
            assert folders == []
            assert "# TYPE registry_notifications_sent_total counter" in scraped
    finally:
        process.stop()
        if command == "notifier":
            exchange = config["notifications"]["broker"]["exchange"]
            with Connection(rabbitmq_url) as conn:
                for suffix in ("", ".requeue", ".delay", ".dead"):
                    conn.default_channel.exchange_delete(exchange + suffix)
                # the notifiers' record of endpoints (shared.broker.endpoint_record)
                conn.default_channel.queue_delete(f"registry.endpoints.{exchange}")
    assert process.proc.returncode == 0, process.log_text()[-2000:]
    assert list(tmpdir.iterdir()) == []
