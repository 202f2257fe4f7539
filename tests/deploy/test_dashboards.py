"""Grafana dashboards and Prometheus alert rules: they parse, every panel has a query, every query is
valid PromQL, and every metric they name is one the services export.

The exported names come from prometheus_client's REGISTRY after importing
``annotary_common.metrics`` (the one module that defines every Annotary metric), not from a
document: a dashboard naming a metric nobody exports fails here.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml
from prometheus_client import REGISTRY

import annotary_common.metrics  # noqa: F401  (registers every Annotary metric)

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "deploy" / "helm" / "annotary"
DASHBOARD_DIR = CHART_DIR / "files" / "grafana"
ALERTS_FILE = CHART_DIR / "files" / "prometheus" / "alerts.yaml"
DASHBOARD_FILES = sorted(DASHBOARD_DIR.glob("*.json"))

# --- what the services export ---------------------------------------------------------------------


def exported_metric_names() -> set[str]:
    """Names as Prometheus stores them: counters with ``_total``; histograms by their base name (queries
    name ``_bucket``/``_sum``/``_count``, which :func:`base_name` strips)."""
    names: set[str] = set()
    for family in REGISTRY.collect():
        names.add(f"{family.name}_total" if family.type == "counter" else family.name)
    return names


EXPORTED = exported_metric_names()

# --- a small PromQL tokenizer ----------------------------------------------------------------------

# Words that are not metric names where an identifier may stand.
_KEYWORDS = {"and", "or", "unless", "offset", "bool", "atan2", "inf", "nan", "start", "end"}
# Aggregation operators are keywords: their modifier may come before the parenthesis (sum by (x) (...)).
_AGGREGATORS = {
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
    "bottomk", "topk", "quantile", "limitk", "limit_ratio",
}
_NAME_MATCHER = re.compile(r"""__name__\s*=\s*(?:"([^"]*)"|'([^']*)')""")
# Modifiers followed by a label list in parentheses: the list holds labels, not metrics.
_LABEL_LIST_MODIFIERS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def _skip_group(expr: str, i: int, open_char: str, close_char: str) -> int:
    """Index after the group opened at ``expr[i]`` (strings inside are skipped)."""
    depth = 0
    while i < len(expr):
        char = expr[i]
        if char in "\"'`":
            i = _skip_string(expr, i)
            continue
        if char == open_char:
            depth += 1
        elif char == close_char:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError(f"unbalanced {open_char!r} in {expr!r}")


def _skip_string(expr: str, i: int) -> int:
    quote = expr[i]
    i += 1
    while i < len(expr):
        if expr[i] == "\\" and quote != "`":
            i += 2
            continue
        if expr[i] == quote:
            return i + 1
        i += 1
    raise ValueError(f"unterminated string in {expr!r}")


def _next_non_space(expr: str, i: int) -> int:
    while i < len(expr) and expr[i].isspace():
        i += 1
    return i


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects, as written (``x_bucket`` stays ``x_bucket``).

    Identifiers count unless they are followed by ``(`` (functions and aggregations), sit inside
    ``{...}`` (label matchers) or ``[...]`` (ranges, subquery steps), follow ``by``/``without``/
    ``on``/``ignoring``/``group_left``/``group_right`` in their label list, are keywords or
    aggregation operators, or are Grafana variables (``$name``). Numbers and durations (``1h``,
    ``0.95``, ``1e3``) are skipped. An exact ``__name__="x"`` matcher names the metric ``x``."""
    names: set[str] = set()
    i = 0
    while i < len(expr):
        char = expr[i]
        if char in "\"'`":
            i = _skip_string(expr, i)
        elif char == "{":
            end = _skip_group(expr, i, "{", "}")
            # Label matchers name labels, except an exact match on __name__, which names a metric.
            names.update(a or b for a, b in _NAME_MATCHER.findall(expr[i:end]))
            i = end
        elif char == "[":
            i = _skip_group(expr, i, "[", "]")
        elif char == "#":  # a comment runs to the end of the line
            end = expr.find("\n", i)
            i = len(expr) if end < 0 else end
        elif char == "$":  # a Grafana variable: $name or ${name}
            i += 1
            if i < len(expr) and expr[i] == "{":
                i = _skip_group(expr, i, "{", "}")
            else:
                match = _IDENT.match(expr, i)
                i = match.end() if match else i
        elif char.isdigit() or (char == "." and i + 1 < len(expr) and expr[i + 1].isdigit()):
            match = re.compile(r"[0-9.]+(?:[eE][-+]?[0-9]+)?[A-Za-z0-9_]*").match(expr, i)
            assert match is not None
            i = match.end()
        elif _IDENT.match(expr, i):
            match = _IDENT.match(expr, i)
            assert match is not None
            word, i = match.group(0), match.end()
            after = _next_non_space(expr, i)
            if word.lower() in _LABEL_LIST_MODIFIERS:
                if after < len(expr) and expr[after] == "(":
                    i = _skip_group(expr, after, "(", ")")
            elif word.lower() in _KEYWORDS or word in _AGGREGATORS:
                continue
            elif after < len(expr) and expr[after] == "(":
                continue  # a function or an aggregation: its arguments are scanned next
            else:
                names.add(word)
        else:
            i += 1
    return names


def base_name(name: str) -> str:
    """``x_bucket``/``x_sum``/``x_count`` -> ``x`` (counters keep ``_total``)."""
    for suffix in _HISTOGRAM_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def unknown_metrics(exprs: dict[str, str], exported: set[str]) -> dict[str, set[str]]:
    """For each expression (by where it is), the metric names in it that nobody exports."""
    problems: dict[str, set[str]] = {}
    for where, expr in exprs.items():
        missing = {name for name in metric_names(expr) if base_name(name) not in exported}
        if missing:
            problems[where] = missing
    return problems


# --- reading the dashboards and rules --------------------------------------------------------------


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def _load_dashboard(path: Path) -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return dashboard


def dashboard_exprs(dashboard: dict[str, Any], source: str) -> dict[str, str]:
    """Every PromQL expression of a dashboard: panel targets and query variables."""
    exprs: dict[str, str] = {}
    for panel in _panels(dashboard.get("panels", [])):
        for target in panel.get("targets", []):
            exprs[f"{source}: panel {panel.get('title')!r} {target.get('refId')}"] = target.get("expr", "")
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            query = variable["query"]
            text = query["query"] if isinstance(query, dict) else query
            # label_values(SELECTOR, label): the selector is PromQL, the label is not.
            match = re.fullmatch(r"\s*label_values\((.*),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*", text)
            exprs[f"{source}: variable {variable['name']!r}"] = match.group(1) if match else text
    return exprs


def alert_exprs() -> dict[str, str]:
    rules = yaml.safe_load(ALERTS_FILE.read_text(encoding="utf-8"))
    return {
        f"alerts.yaml: {rule.get('alert') or rule.get('record')}": rule["expr"]
        for group in rules["groups"]
        for rule in group["rules"]
    }


def all_exprs() -> dict[str, str]:
    exprs: dict[str, str] = {}
    for path in DASHBOARD_FILES:
        exprs.update(dashboard_exprs(_load_dashboard(path), path.name))
    exprs.update(alert_exprs())
    return exprs


# Grafana's built-in and dashboard variables, replaced by something PromQL accepts before parsing.
_GRAFANA_VARIABLES = {
    "$__rate_interval": "5m",
    "$__interval": "1m",
    "$__range": "1h",
    "${datasource}": "x",
    "$project": ".*",
}


def _as_promql(expr: str) -> str:
    for variable, value in _GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr.replace("$labels", "").replace("$value", ""), f"unknown Grafana variable in {expr!r}"
    return expr


def _selector_names(expr: str) -> set[str]:
    """The metric names the real PromQL parser finds (its vector selectors), to check the tokenizer."""
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            if node.name:
                names.add(node.name)
            for matcher in node.matchers.matchers:
                if matcher.name == "__name__":
                    names.add(matcher.value)
            return
        for attribute in ("expr", "lhs", "rhs", "param", "vector_selector"):
            child = getattr(node, attribute, None)
            if isinstance(child, promql_parser.Expr):
                visit(child)
        for child in getattr(node, "args", None) or []:
            visit(child)

    visit(promql_parser.parse(_as_promql(expr)))
    return names


# --- tests ------------------------------------------------------------------------------------------


def test_the_metrics_module_exports_the_contract() -> None:
    annotary = {name for name in EXPORTED if name.startswith("annotary_")}
    assert len(annotary) >= 16, annotary
    assert {"annotary_events_total", "annotary_consumer_lag", "annotary_task_duration_seconds"} <= annotary


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("up", {"up"}),
        ('sum by (le, route) (rate(x_bucket{route=~"/api/.*", le!="+Inf"}[5m]))', {"x_bucket"}),
        ("a / ignoring (decision) group_left sum(b)", {"a", "b"}),
        ("a / on (project) group_left (annotator) b", {"a", "b"}),
        ("sum without (instance) (a) > bool 0.5 * b offset 1d", {"a", "b"}),
        ("rate(a[$__rate_interval]) and on (group) c unless d", {"a", "c", "d"}),
        ('histogram_quantile(0.95, sum(rate(h_bucket{p=~"$project"}[1h] offset 1w))) > 1e3', {"h_bucket"}),
        ("max_over_time(a[15m:1m]) # a comment naming not_a_metric", {"a"}),
        ("topk(10, a:recorded:rate5m) @ end()", {"a:recorded:rate5m"}),
        ('{__name__="by_name", job="x"}', {"by_name"}),
        ("sum(a) + count_values(\"v\", b)", {"a", "b"}),
        ("count(a) by (x) == 0", {"a"}),
    ],
)
def test_tokenizer(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_dashboards_parse_and_every_panel_has_a_query() -> None:
    assert {p.name for p in DASHBOARD_FILES} >= {
        "annotary-overview.json",
        "annotary-pipeline.json",
        "annotary-models.json",
    }
    uids = set()
    for path in DASHBOARD_FILES:
        dashboard = _load_dashboard(path)
        assert dashboard["title"].startswith("Annotary"), path.name
        assert dashboard["uid"] not in uids, f"{path.name}: duplicate uid"
        uids.add(dashboard["uid"])
        assert dashboard.get("id") is None, f"{path.name}: a provisioned dashboard must not carry an id"
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource"
        assert variables["datasource"]["query"] == "prometheus"
        panels = [p for p in _panels(dashboard["panels"]) if p["type"] != "row"]
        assert len(panels) >= 4, path.name
        ids = [p["id"] for p in _panels(dashboard["panels"])]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"
        for panel in panels:
            where = f"{path.name}: {panel['title']!r}"
            assert panel["targets"], f"{where} has no query"
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, where
            for target in panel["targets"]:
                assert target["expr"].strip(), f"{where} has an empty query"
                assert target["datasource"]["uid"] == "${datasource}", where
            grid = panel["gridPos"]
            assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, where


def test_dashboards_cover_what_the_issue_asks_for() -> None:
    overview = " ".join(dashboard_exprs(_load_dashboard(DASHBOARD_DIR / "annotary-overview.json"), "o").values())
    pipeline = " ".join(dashboard_exprs(_load_dashboard(DASHBOARD_DIR / "annotary-pipeline.json"), "p").values())
    models = " ".join(dashboard_exprs(_load_dashboard(DASHBOARD_DIR / "annotary-models.json"), "m").values())
    for needle in (
        "sum by (annotator) (increase(annotary_annotations_submitted_total",
        "sum by (task_type) (increase(annotary_annotations_submitted_total",
        "histogram_quantile(0.5, sum by (le, task_type) (rate(annotary_task_duration_seconds_bucket",
        "histogram_quantile(0.95, sum by (le, task_type) (rate(annotary_task_duration_seconds_bucket",
        'annotary_qa_decisions_total{project=~"$project",decision="accepted"}',
        "sum by (decision) (increase(annotary_qa_decisions_total",
        'annotary_gold_checks_total{project=~"$project",outcome="correct"}',
        "sum by (state) (annotary_queue_depth",
    ):
        assert needle in overview, needle
    for needle in (
        "annotary_consumer_lag",
        "annotary_outbox_backlog",
        "sum by (group, outcome) (rate(annotary_events_total",
        "histogram_quantile(0.95, sum by (le, route) (rate(annotary_http_request_duration_seconds_bucket",
        "rate(annotary_db_query_duration_seconds_bucket",
        "rate(annotary_grpc_server_duration_seconds_bucket",
    ):
        assert needle in pipeline, needle
    assert "annotary_preannotate_latency_seconds_bucket" in models
    assert "annotary_model_accuracy" in models


def test_every_query_is_valid_promql_and_the_tokenizer_agrees_with_the_parser() -> None:
    exprs = all_exprs()
    assert len(exprs) >= 40
    for where, expr in exprs.items():
        try:
            parsed = _selector_names(expr)
        except ValueError as exc:
            pytest.fail(f"{where}: invalid PromQL: {exc}\n{expr}")
        assert metric_names(expr) == parsed, where


def test_dashboards_and_alerts_name_only_exported_metrics() -> None:
    problems = unknown_metrics(all_exprs(), EXPORTED)
    assert problems == {}, f"metrics nobody exports: {problems}"


def test_every_exported_annotary_metric_is_on_a_dashboard() -> None:
    used = set()
    for path in DASHBOARD_FILES:
        for expr in dashboard_exprs(_load_dashboard(path), path.name).values():
            used |= {base_name(n) for n in metric_names(expr)}
    annotary = {n for n in EXPORTED if n.startswith("annotary_")}
    assert annotary - used == set(), "exported but on no dashboard"


def test_the_check_catches_a_metric_that_does_not_exist() -> None:
    dashboard = copy.deepcopy(_load_dashboard(DASHBOARD_DIR / "annotary-overview.json"))
    panel = next(p for p in _panels(dashboard["panels"]) if p.get("targets"))
    panel["targets"][0]["expr"] = 'sum by (project) (rate(annotary_annotations_typo_total{project=~"$project"}[5m]))'
    problems = unknown_metrics(dashboard_exprs(dashboard, "broken.json"), EXPORTED)
    assert list(problems.values()) == [{"annotary_annotations_typo_total"}]
    # A histogram suffix on a counter, or a gauge read as a counter, is caught too.
    assert unknown_metrics({"x": "rate(annotary_queue_depth_total[5m])"}, EXPORTED) == {
        "x": {"annotary_queue_depth_total"}
    }


def test_alert_rules_cover_throughput_quality_lag_and_backlog() -> None:
    rules = yaml.safe_load(ALERTS_FILE.read_text(encoding="utf-8"))
    exprs = {rule["alert"]: rule["expr"] for group in rules["groups"] for rule in group["rules"]}
    by_metric: dict[str, set[str]] = {}
    for alert, expr in exprs.items():
        for name in metric_names(expr):
            by_metric.setdefault(base_name(name), set()).add(alert)
    assert "AnnotaryThroughputDrop" in by_metric["annotary_annotations_submitted_total"]
    assert "AnnotaryRejectionRateHigh" in by_metric["annotary_qa_decisions_total"]
    assert "AnnotaryGoldAccuracyLow" in by_metric["annotary_gold_checks_total"]
    assert "AnnotaryConsumerLagHigh" in by_metric["annotary_consumer_lag"]
    assert "AnnotaryOutboxBacklog" in by_metric["annotary_outbox_backlog"]
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
            assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]
