"""Issue 9, done-when 2: one item's trace spans ingest, orchestrator, annotation-api, qa and export (exported over
OTLP to a receiver in this process), and /metrics of every service shows the named metrics with the values a
scripted run implies."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from annotary_cli.stack import SERVICES, Stack
from tests.integration.client import Api
from tests.integration.otlp import OtlpReceiver, ReceivedSpan
from tests.integration.test_pipeline import wait_items

SCHEMA = {"modality": "text", "labels": [{"name": "PERSON"}, {"name": "ORG"}], "tools": ["span"]}
NAMES = ["Ada Lovelace", "Alan Turing", "Grace Hopper"]
GOLD = "Hedy Lamarr"
PIPELINE = ("annotary-annotation-api", "annotary-ingest", "annotary-orchestrator", "annotary-qa", "annotary-export")
CONSUMERS = {"orchestrator", "qa", "export", "preannotate"}  # services with a consumer group and an outbox relay
CONTRACT = (  # every metric of the contract (docs/runtime.md), as exposed
    "annotary_items_ingested_total",
    "annotary_annotations_submitted_total",
    "annotary_task_duration_seconds",
    "annotary_qa_decisions_total",
    "annotary_gold_checks_total",
    "annotary_preannotate_latency_seconds",
    "annotary_model_accuracy",
    "annotary_queue_depth",
    "annotary_consumer_lag",
    "annotary_outbox_backlog",
    "annotary_http_request_duration_seconds",
    "annotary_grpc_server_duration_seconds",
    "annotary_db_query_duration_seconds",
    "annotary_events_total",
    "annotary_outbox_published_total",
    "annotary_exports_total",
)

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def truth(text: str) -> list[dict[str, Any]]:
    name = text.split(" met ")[0]
    return [{"type": "span", "label": "PERSON", "start": 0, "end": len(name)}]


def scrape(url: str) -> tuple[set[str], Samples]:
    """(the metric families exposed, every sample keyed by name and label set)."""
    reply = httpx.get(url, timeout=10.0)
    assert reply.status_code == 200, f"{url}: {reply.status_code}"
    families: set[str] = set()
    samples: Samples = {}
    for family in text_string_to_metric_families(reply.text):
        families.add(family.name + ("_total" if family.type == "counter" else ""))
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return families, samples


def scrape_all(stack: Stack) -> dict[str, tuple[set[str], Samples]]:
    """Each live process of the stack (replicas too), by process name."""
    return {
        name: scrape(f"http://127.0.0.1:{stack.http_ports[name]}/metrics")
        for name, proc in stack.procs.items()
        if proc.alive
    }


def total(scraped: dict[str, tuple[set[str], Samples]], name: str, **labels: str) -> float:
    """The sum of ``name`` over every process and every label set that has ``labels``."""
    want = set(labels.items())
    return sum(v for _, samples in scraped.values() for (n, ls), v in samples.items() if n == name and want <= ls)


def by_label(scraped: dict[str, tuple[set[str], Samples]], name: str, key: str, **labels: str) -> dict[str, float]:
    want = set(labels.items())
    out: dict[str, float] = defaultdict(float)
    for _, samples in scraped.values():
        for (n, ls), v in samples.items():
            if n == name and want <= ls:
                out[dict(ls)[key]] += v
    return dict(out)


def eventually(stack: Stack, check: Callable[[dict[str, tuple[set[str], Samples]]], bool], timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        scraped = scrape_all(stack)
        if check(scraped) or time.monotonic() > deadline:
            return scraped
        time.sleep(0.3)


def work(api: Api, pid: str) -> list[dict[str, Any]]:
    """Lease and submit the truth until nothing is left; the tasks submitted."""
    done: list[dict[str, Any]] = []
    while True:
        reply = api.post(f"/projects/{pid}/tasks/next")
        if reply.status_code == 204:
            return done
        assert reply.status_code == 200, reply.text
        task = reply.json()
        submit = api.post(f"/tasks/{task['id']}/submit", json={"result": truth(task["item"]["text"])})
        assert submit.status_code == 200, submit.text
        done.append(task)


def item_trace(spans: list[ReceivedSpan], item_id: str) -> tuple[str, set[str]] | None:
    """The trace id whose spans name ``item_id`` and come from every pipeline service, with those services."""
    traces = {s.trace_id for s in spans if s.attributes.get("annotary.item_id") == item_id}
    services: dict[str, set[str]] = defaultdict(set)
    for s in spans:
        if s.trace_id in traces:
            services[s.trace_id].add(s.service)
    for trace_id, seen in services.items():
        if set(PIPELINE) <= seen:
            return trace_id, seen
    return None


async def db_states(database_url: str, project_id: str) -> dict[str, int]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT state, count(*) AS n FROM orchestrator.items WHERE project_id = $1 AND state <> 'gold'"
            " GROUP BY state",
            uuid.UUID(project_id),
        )
    finally:
        await conn.close()
    return {r["state"]: r["n"] for r in rows}


@pytest.fixture(scope="module")
def run(stack: Stack, otlp: OtlpReceiver, make_user_module: Callable[[str], Api]) -> dict[str, Any]:
    """The scripted run: 3 items and 1 gold item, overlap 2, two careful annotators, a JSONL export."""
    before = scrape_all(stack)
    manager = make_user_module("manager")
    annotators = [make_user_module("annotator"), make_user_module("annotator")]
    project = manager.create_project(
        f"observability-{uuid.uuid4().hex[:6]}",
        SCHEMA,
        {
            "overlap": 2,
            "agreement_threshold": 0.9,
            "review": "disagreements",
            "gold_ratio": 0.3,
            "gold_min_accuracy": 0.5,
        },
    )
    pid = project["id"]
    items = [{"external_id": f"item-{i}", "text": f"{name} met the committee."} for i, name in enumerate(NAMES)]
    items.append({"external_id": "gold-0", "text": f"{GOLD} met the board.", "gold": truth(f"{GOLD} met ")})
    reply = manager.post(f"/projects/{pid}/items", json=items)
    assert reply.status_code == 201, reply.text
    wait_items(manager, pid, len(NAMES))
    submitted = {}
    for api in annotators:
        tasks = work(api, pid)
        assert tasks, "an annotator got no task"
        submitted[tasks[0]["annotator_id"]] = tasks
    deadline = time.monotonic() + 60
    while manager.get(f"/projects/{pid}/stats").json()["states"] != {"accepted": len(NAMES)}:
        assert time.monotonic() < deadline, manager.get(f"/projects/{pid}/stats").json()
        time.sleep(0.2)
    job = manager.post(f"/projects/{pid}/exports", json={"format": "jsonl"})
    assert job.status_code == 202, job.text
    assert manager.wait_export(job.json()["id"])["status"] == "done"
    return {"pid": pid, "before": before, "submitted": submitted}


@pytest.fixture(scope="module")
def make_user_module(admin: Api) -> Callable[[str], Api]:
    def make(role: str) -> Api:
        reply = admin.post("/users", json={"username": f"{role}-{uuid.uuid4().hex[:8]}", "role": role})
        assert reply.status_code == 201, reply.text
        return Api(admin.base_url, reply.json()["token"])

    return make


def test_one_trace_follows_an_item_through_every_service(run: dict[str, Any], otlp: OtlpReceiver) -> None:
    tasks = next(iter(run["submitted"].values()))
    item_id = next(t["item"]["id"] for t in tasks if t["item"]["external_id"].startswith("item-"))
    found = otlp.wait_for(lambda spans: item_trace(spans, item_id), timeout=30.0)
    spans = otlp.spans()
    assert found, (
        f"no trace of item {item_id} spans {PIPELINE}; traces naming it: "
        f"{Counter((s.trace_id, s.service) for s in spans if s.attributes.get('annotary.item_id') == item_id)}"
    )
    trace_id, _ = found
    in_trace = [s for s in spans if s.trace_id == trace_id]
    with_item = {s.service for s in in_trace if s.attributes.get("annotary.item_id") == item_id}
    # The consumers' spans name the item; the project id travels too.
    assert {"annotary-orchestrator", "annotary-qa", "annotary-export"} <= with_item, with_item
    assert all(
        s.attributes.get("annotary.project_id") == run["pid"] for s in in_trace if "annotary.project_id" in s.attributes
    )
    names = {(s.service, s.name) for s in in_trace}
    assert ("annotary-annotation-api", "POST /api/v1/projects/{project_id}/items") in names, names
    assert ("annotary-ingest", "IngestService/ImportItems") in names, names
    assert ("annotary-orchestrator", "consume item.ingested") in names, names
    assert ("annotary-orchestrator", "task.submitted") in names, names
    assert ("annotary-qa", "consume task.submitted") in names, names
    assert ("annotary-export", "consume annotation.accepted") in names, names
    # The submission continues the item's trace and links the annotator's request (an HTTP -> gRPC trace of its own).
    submit = next(s for s in in_trace if s.name == "task.submitted")
    assert submit.links, "task.submitted does not link the submit request"
    request_spans = [s for s in spans if s.trace_id == submit.links[0]]
    assert {"annotary-annotation-api", "annotary-orchestrator"} <= {s.service for s in request_spans}
    assert any(s.attributes.get("annotary.task_id") for s in request_spans if s.service == "annotary-annotation-api")


def test_every_service_exports_the_metrics_with_the_run_s_values(run: dict[str, Any], stack: Stack) -> None:
    pid, before, submitted = run["pid"], run["before"], run["submitted"]
    n_submitted = sum(len(tasks) for tasks in submitted.values())
    gold_by_annotator = {a: sum(t["item"]["external_id"].startswith("gold") for t in ts) for a, ts in submitted.items()}

    def settled(scraped: dict[str, tuple[set[str], Samples]]) -> bool:
        return (
            total(scraped, "annotary_outbox_backlog") == 0
            and total(scraped, "annotary_consumer_lag") == 0
            and total(scraped, "annotary_queue_depth", project=pid, state="accepted") == len(NAMES)
        )

    after = eventually(stack, settled)
    for name in SERVICES:
        families, _ = after[name]
        missing = [m for m in CONTRACT if m not in families]
        assert not missing, f"{name} /metrics lacks {missing}"

    def delta(metric: str, **labels: str) -> float:
        return total(after, metric, **labels) - total(before, metric, **labels)

    # ingest
    assert total(after, "annotary_items_ingested_total", project=pid) == len(NAMES) + 1
    # orchestrator: submissions per annotator and task type, lease-to-submit times, queue depth = the database
    per_annotator = by_label(
        after, "annotary_annotations_submitted_total", "annotator", project=pid, task_type="text:span"
    )
    assert per_annotator == {a: float(len(ts)) for a, ts in submitted.items()}
    assert total(after, "annotary_task_duration_seconds_count", project=pid, task_type="text:span") == n_submitted
    assert total(after, "annotary_task_duration_seconds_sum", project=pid) > 0
    depth = {k: int(v) for k, v in by_label(after, "annotary_queue_depth", "state", project=pid).items() if v}
    assert depth == asyncio.run(db_states(stack.config.database_url, pid)) == {"accepted": len(NAMES)}
    # qa: one decision per item, a gold check per gold submission
    assert by_label(after, "annotary_qa_decisions_total", "decision", project=pid) == {"accepted": len(NAMES)}
    for annotator, golds in gold_by_annotator.items():
        assert total(after, "annotary_gold_checks_total", project=pid, annotator=annotator, outcome="correct") == golds
        assert total(after, "annotary_gold_checks_total", project=pid, annotator=annotator, outcome="incorrect") == 0
    # export
    assert delta("annotary_exports_total", format="jsonl", outcome="succeeded") == 1
    # the bus: qa applied one task.submitted per item and per gold submission; nothing left to publish or consume
    golds = sum(gold_by_annotator.values())
    assert delta("annotary_events_total", group="annotary-qa", topic="task.submitted", outcome="applied") == (
        len(NAMES) + golds
    )
    for service in CONSUMERS:
        assert ("annotary_outbox_backlog", frozenset({("service", service)})) in after[service][1], service
        assert by_label(after, "annotary_consumer_lag", "topic", group=f"annotary-{service}"), service
    assert total(after, "annotary_outbox_backlog") == 0
    assert total(after, "annotary_consumer_lag") == 0
    # the API, gRPC and the database: route templates, method names and codes, operation names
    assert (
        delta(
            "annotary_http_request_duration_seconds_count",
            service="annotation-api",
            method="POST",
            route="/api/v1/tasks/{task_id}/submit",
            status="200",
        )
        == n_submitted
    )
    assert (
        delta(
            "annotary_grpc_server_duration_seconds_count",
            service="orchestrator",
            method="OrchestratorService/SubmitTask",
            code="OK",
        )
        == n_submitted
    )
    assert (
        delta(
            "annotary_grpc_server_duration_seconds_count",
            service="ingest",
            method="IngestService/ImportItems",
            code="OK",
        )
        == 1
    )
    assert delta("annotary_db_query_duration_seconds_count", service="orchestrator", operation="update tasks") > 0
    assert delta("annotary_db_query_duration_seconds_count", service="qa", operation="insert decisions") == len(NAMES)
    routes = by_label(after, "annotary_http_request_duration_seconds_count", "route", service="annotation-api")
    assert "/api/v1/projects/{project_id}/tasks/next" in routes, routes
    assert not [r for r in routes if UUID_RE.search(r)], f"raw paths as route labels: {routes}"
