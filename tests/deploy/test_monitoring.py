"""Alert rules and dashboards: promtool checks and unit-tests the rules, checks every dashboard
query, and every metric name they use must be one the services define."""

from __future__ import annotations

import json

import yaml

from tests.deploy import promql_names
from tests.deploy.tools import REPO, run, tool

ALERTS = REPO / "alerts"


def test_rules_pass_promtool_check():
    result = run([tool("promtool", "prometheus"), "check", "rules", str(ALERTS / "registry-rules.yml")])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 9 rules found" in result.stdout


def test_rules_unit_tests_pass():
    result = run([tool("promtool", "prometheus"), "test", "rules", "tests.yml"], cwd=ALERTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_unit_test_that_fires_it():
    rules = yaml.safe_load((ALERTS / "registry-rules.yml").read_text())
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    tests = yaml.safe_load((ALERTS / "tests.yml").read_text())["tests"]
    fired = {
        case["alertname"]
        for t in tests
        for case in t.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert alerts - fired == set(), "alerts with no test that expects them to fire"


def test_every_alert_has_severity_and_explanation():
    rules = yaml.safe_load((ALERTS / "registry-rules.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
            assert rule["annotations"]["summary"] and rule["annotations"]["description"]


def test_every_dashboard_query_passes_promtool(tmp_path):
    # Dashboard queries as recording rules: promtool parses each one as Prometheus would.
    queries = [
        (where, expr)
        for path in promql_names.DASHBOARDS
        for where, expr in promql_names.dashboard_queries(json.loads(path.read_text()))
    ]
    assert len(queries) > 30
    rules = {
        "groups": [
            {
                "name": "dashboard-queries",
                "rules": [{"record": f"dashboard:query_{i}", "expr": e} for i, (_, e) in enumerate(queries)],
            }
        ]
    }
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump(rules))
    result = run([tool("promtool", "prometheus"), "check", "rules", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(queries)} rules found" in result.stdout


def test_every_metric_name_used_is_defined_by_the_services():
    used = promql_names.used_names()
    defined = promql_names.defined_names() | promql_names.STANDARD_NAMES
    undefined = {name: where for name, where in used.items() if name not in defined}
    assert undefined == {}
    # The extraction itself found the metrics the issue asks to watch.
    for name in (
        "registry_http_requests_total",
        "registry_http_request_duration_seconds_bucket",
        "registry_events_spool_depth",
        "registry_notifications_dropped_total",
        "registry_notifications_queue_depth",
        "up",
    ):
        assert name in used


def test_name_extraction_ignores_functions_labels_and_keywords():
    expr = (
        'sum by (le, endpoint) (rate(a_bucket{endpoint=~"x{1}", code="5.."}[5m] offset 1h))'
        " / on (endpoint) group_left (code) b_total unless absent(up == 1) > 0.99"
    )
    assert promql_names.metric_names(expr) == {"a_bucket", "b_total", "up"}
    assert promql_names.substitute_grafana('x{e=~"$endpoint"}[$__rate_interval]') == 'x{e=~".*"}[5m]'


def test_dashboards_have_the_panels_and_variables_asked_for():
    notif = json.loads((REPO / "dashboards" / "notifications.json").read_text())
    variables = {v["name"] for v in notif["templating"]["list"]}
    assert {"datasource", "endpoint"} <= variables
    exprs = " ".join(e for _, e in promql_names.dashboard_queries(notif))
    for name in ("sent_total", "failed_total", "dropped_total", "delivery_latency",
                 "queue_depth", "attempts", "endpoint_paused", "history_dropped_total"):
        assert f"registry_notifications_{name}" in exprs
    registry = json.loads((REPO / "dashboards" / "registry.json").read_text())
    exprs = " ".join(e for _, e in promql_names.dashboard_queries(registry))
    assert "histogram_quantile(0.5" in exprs and "histogram_quantile(0.99" in exprs
    for name in ("request_size_bytes", "response_size_bytes", "cache_hits_total", "requests_total"):
        assert name in exprs
    # Every panel reads the templated data source, so provisioning works in any Grafana.
    for d in (notif, registry):
        for p in d["panels"]:
            if p["type"] != "row":
                assert p["datasource"]["uid"] == "${datasource}", p["title"]


def test_names_in_exposition_reads_series_names_as_scraped():
    from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

    registry = CollectorRegistry()
    Counter("demo_sent", "x", ["endpoint"], registry=registry).labels("ci").inc()
    Histogram("demo_latency_seconds", "x", buckets=(1,), registry=registry).observe(0.5)
    names = promql_names.names_in_exposition(generate_latest(registry).decode())
    assert {"demo_sent_total", "demo_latency_seconds_bucket", "demo_latency_seconds_count"} <= names


def test_dashboard_layout_is_sound():
    # Grafana silently drops or overlaps panels with duplicate ids or out-of-grid positions.
    for path in promql_names.DASHBOARDS:
        dashboard = json.loads(path.read_text())
        ids = [p["id"] for p in dashboard["panels"]]
        assert len(ids) == len(set(ids)), path.name
        cells = set()
        for panel in dashboard["panels"]:
            pos = panel["gridPos"]
            assert 0 <= pos["x"] and pos["x"] + pos["w"] <= 24, (path.name, panel["title"])
            for x in range(pos["x"], pos["x"] + pos["w"]):
                for y in range(pos["y"], pos["y"] + pos["h"]):
                    assert (x, y) not in cells, f"{path.name}: {panel['title']} overlaps"
                    cells.add((x, y))
        assert dashboard["uid"] and dashboard["title"]
