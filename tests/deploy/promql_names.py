"""Which metric names do the dashboards and alert rules use, and which do the services define?

Reusable by any test that must check names: the offline test here compares them with the metric
objects in the code; a live test can compare them with a real scrape of ``/metrics``.

PromQL is tokenised, not fully parsed: label matchers, strings, durations, grouping clauses and
function calls are removed, and the identifiers left are series selectors, i.e. metric names.
promtool checks the same expressions for syntax separately, so this never sees broken PromQL.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterable
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((REPO / "dashboards").glob("*.json"))
RULES = REPO / "alerts" / "registry-rules.yml"
METRIC_MODULES = ("services.registry.metrics", "services.notifier.metrics",
                  "shared.history.metrics", "shared.operations.metrics")
# Series Prometheus itself makes; not defined by our code.
STANDARD_NAMES = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped", "ALERTS"})

# What Grafana substitutes before the query reaches Prometheus; any valid value will do for
# syntax checks and name extraction.
GRAFANA_VARIABLES = {
    "$__rate_interval": "5m",
    "$__interval": "1m",
    "$__range": "1h",
}
_GRAFANA_VAR = re.compile(r"\$\{?(\w+)(?::\w+)?\}?")

_KEYWORDS = frozenset(
    "and or unless by without on ignoring group_left group_right bool offset inf nan".split()
)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(
    r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", re.IGNORECASE
)
_IDENT = re.compile(r"(?<![\w:.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?")
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(.*?)\s*,\s*\w+\s*\)\s*$", re.DOTALL)


def substitute_grafana(expr: str) -> str:
    """The expression as Prometheus would receive it: built-in variables get a duration,
    dashboard variables (``$endpoint``, used inside ``=~"..."``) match everything."""
    for name, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(name, value)
    return _GRAFANA_VAR.sub(".*", expr)


def metric_names(expr: str) -> set[str]:
    """Metric names selected by a PromQL expression."""
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    names = set()
    for match in _IDENT.finditer(text):
        name, call = match.groups()
        if call or name.lower() in _KEYWORDS:
            continue  # a function or aggregation, or an operator word
        names.add(name)
    return names


def dashboard_queries(dashboard: dict) -> list[tuple[str, str]]:
    """(where, PromQL) for every panel target and query variable of a Grafana dashboard,
    Grafana variables substituted. ``label_values(metric, label)`` yields its selector."""
    out = []

    def panels(items: Iterable[dict]) -> Iterable[dict]:
        for panel in items:
            yield panel
            yield from panels(panel.get("panels", []))

    for panel in panels(dashboard.get("panels", [])):
        for target in panel.get("targets", []):
            if target.get("expr"):
                out.append((f"panel {panel.get('title')!r}", substitute_grafana(target["expr"])))
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") != "query":
            continue
        query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
        match = _LABEL_VALUES.match(query)
        selector = match.group(1) if match else query
        out.append((f"variable {var['name']!r}", substitute_grafana(selector)))
    return out


def rule_queries(rules: dict) -> list[tuple[str, str]]:
    """(where, PromQL) for every rule of a Prometheus rules file (or PrometheusRule spec)."""
    return [
        (f"rule {rule.get('alert') or rule.get('record')!r}", rule["expr"])
        for group in rules["groups"]
        for rule in group["rules"]
    ]


def used_queries(dashboards: Iterable[Path] = DASHBOARDS, rules: Path = RULES) -> list[tuple[str, str]]:
    """Every query of the repository's dashboards and alert rules, labelled by file."""
    out = []
    for path in dashboards:
        for where, expr in dashboard_queries(json.loads(path.read_text())):
            out.append((f"{path.name}: {where}", expr))
    for where, expr in rule_queries(yaml.safe_load(rules.read_text())):
        out.append((f"{rules.name}: {where}", expr))
    return out


def used_names(queries: Iterable[tuple[str, str]] | None = None) -> dict[str, list[str]]:
    """Metric name -> where it is used."""
    out: dict[str, list[str]] = {}
    for where, expr in used_queries() if queries is None else queries:
        for name in metric_names(expr):
            out.setdefault(name, []).append(where)
    return out


_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "gauge": ("",),
    "info": ("_info",),
    "stateset": ("",),
    "enum": ("",),
}


def defined_names(modules: Iterable[str] = METRIC_MODULES) -> set[str]:
    """Every series name the services' metric objects expose, as prometheus_client writes
    them (a Counter ``x`` is scraped as ``x_total``, a Histogram as ``x_bucket`` ...)."""
    from prometheus_client.metrics import MetricWrapperBase

    names = set()
    for module_name in modules:
        module = importlib.import_module(module_name)
        for obj in vars(module).values():
            if not isinstance(obj, MetricWrapperBase):
                continue
            for family in obj.collect():
                names.update(family.name + suffix for suffix in _SUFFIXES[family.type])
    return names


def names_in_exposition(text: str) -> set[str]:
    """Series names in a Prometheus text exposition (a real scrape of ``/metrics``), for the
    live check: ``used_names().keys() - names_in_exposition(scrape) - STANDARD_NAMES``."""
    from prometheus_client.parser import text_string_to_metric_families

    return {sample.name for family in text_string_to_metric_families(text) for sample in family.samples}
