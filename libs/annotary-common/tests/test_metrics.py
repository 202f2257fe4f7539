"""The parts of metrics.py and telemetry.py with logic: lag, gauge snapshots, operation names, deferred updates,
scrape-time refreshers, and the gRPC/HTTP instrumentation (real servers, real clients)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, NamedTuple

import grpc
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from faststream.kafka import KafkaBroker
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY, Gauge
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from annotary_common import metrics
from annotary_common.grpc_util import open_channel
from annotary_common.metrics import GaugeFamily, Refreshers, operation_of, partition_lag
from annotary_common.runtime import consumer_lag_refresher
from annotary_common.telemetry import ATTR_PROJECT, HttpTelemetry, ServerTelemetry, continue_item_trace


class TP(NamedTuple):
    topic: str
    partition: int


def sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


# -- pure logic --------------------------------------------------------------------------------------------------
def test_partition_lag_sums_partitions_per_topic_and_ignores_unknown_offsets() -> None:
    assigned = [TP("a", 0), TP("a", 1), TP("b", 0), TP("b", 1), TP("c", 0)]
    high = {TP("a", 0): 10, TP("a", 1): 7, TP("b", 0): None, TP("b", 1): 5, TP("c", 0): 3}
    pos = {TP("a", 0): 4, TP("a", 1): 7, TP("b", 0): 2, TP("b", 1): None, TP("c", 0): 9}
    assert partition_lag(assigned, high.get, pos.get) == {"a": 6, "b": 0, "c": 0}  # c: position past hw -> 0
    assert partition_lag([], high.get, pos.get) == {}


def test_gauge_family_zeroes_or_drops_label_sets_that_vanish() -> None:
    name = f"test_family_{uuid.uuid4().hex[:6]}"
    gauge = Gauge(name, "test", ["project", "state"])
    family = GaugeFamily(gauge)
    family.set_all({("p", "unassigned"): 3, ("p", "assigned"): 1})
    family.set_all({("p", "accepted"): 4})
    assert sample(name, project="p", state="unassigned") == 0
    assert sample(name, project="p", state="assigned") == 0
    assert sample(name, project="p", state="accepted") == 4
    dropping = GaugeFamily(Gauge(f"{name}_drop", "test", ["topic"]), zero_missing=False)
    dropping.set_all({("t1",): 2, ("t2",): 1})
    dropping.set_all({("t2",): 5})
    assert sample(f"{name}_drop", topic="t1") is None
    assert sample(f"{name}_drop", topic="t2") == 5


@pytest.mark.parametrize(
    ("sql", "name"),
    [
        ("SELECT 1", "select"),
        ("  select t.a FROM\n tasks t WHERE x = 'secret'", "select tasks"),
        ("INSERT INTO inbox (consumer, event_id) VALUES ($1, $2)", "insert inbox"),
        ("UPDATE ONLY items SET state = 'accepted'", "update items"),
        ("DELETE FROM outbox WHERE published_at < now()", "delete outbox"),
        ("SELECT pg_notify(current_schema() || '_outbox', '')", "select pg_notify"),
        ("WITH x AS (SELECT 1) SELECT * FROM y", "with"),
        ("WITH change AS (UPDATE tasks SET state = 'x' WHERE task_id = $1) INSERT INTO item_history VALUES ($2)",
         "update tasks"),
        ("BEGIN ISOLATION LEVEL SERIALIZABLE;", "begin"),
        ("COPY items FROM STDIN", "copy items"),
        ("'; DROP TABLE x", "other"),
    ],
)
def test_operation_names_are_verb_and_table_never_values(sql: str, name: str) -> None:
    assert operation_of(sql) == name
    assert operation_of(sql) == name  # cached


def test_after_commit_waits_for_apply_and_is_dropped_on_failure() -> None:
    seen: list[str] = []
    metrics.after_commit(lambda: seen.append("now"))
    assert seen == ["now"]
    with metrics.deferred() as pending:
        metrics.after_commit(lambda: seen.append("later"))
        assert seen == ["now"]
    metrics.apply_deferred(pending)
    assert seen == ["now", "later"]
    with pytest.raises(RuntimeError), metrics.deferred() as failed:
        metrics.after_commit(lambda: seen.append("never"))
        raise RuntimeError("the transaction rolled back")
    assert failed and seen == ["now", "later"]  # collected, never applied by the caller


async def test_refreshers_throttle_time_out_and_survive_failures() -> None:
    calls: list[str] = []

    async def ok() -> None:
        calls.append("ok")

    async def broken() -> None:
        raise RuntimeError("the database is down")

    async def slow() -> None:
        await asyncio.sleep(5)

    refreshers = Refreshers(min_interval_s=60.0, timeout_s=0.1)
    for name, fn in (("broken", broken), ("slow", slow), ("ok", ok)):
        refreshers.add(name, fn)
    body, content_type = await refreshers.render()
    assert calls == ["ok"]  # the broken and the slow one did not stop it, nor the scrape
    assert b"# TYPE annotary_events_total counter" in body
    assert content_type.startswith("text/plain")
    await refreshers.refresh()  # within min_interval_s: skipped
    assert calls == ["ok"]
    await refreshers.refresh(force=True)
    assert calls == ["ok", "ok"]


def test_every_contract_metric_is_exposed() -> None:
    body = metrics.render()[0].decode()
    for name in (
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
    ):
        assert f"# TYPE {name} " in body, name


# -- consumer lag on a real broker -------------------------------------------------------------------------------
async def test_lag_of_a_real_consumer_is_high_water_minus_position(bootstrap: str) -> None:
    topic = f"lag-{uuid.uuid4().hex[:6]}"
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for i in range(5):
            await producer.send_and_wait(topic, f"m{i}".encode(), partition=0)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        got = await consumer.getmany(tp, timeout_ms=5000, max_records=2)
        assert len(got[tp]) == 2
        position = await consumer.position(tp)
        lag = partition_lag(consumer.assignment(), consumer.highwater, {tp: position}.get)
        assert lag == {topic: 3}
    finally:
        await consumer.stop()


async def test_consumer_lag_refresher_reads_a_running_broker(bootstrap: str) -> None:
    topic = f"lagged-{uuid.uuid4().hex[:6]}"
    group = f"group-{uuid.uuid4().hex[:6]}"
    broker = KafkaBroker(bootstrap)
    consumed = asyncio.Event()

    @broker.subscriber(
        topic,
        group_id=group,
        auto_offset_reset="earliest",
        session_timeout_ms=1000,
        heartbeat_interval_ms=200,
        rebalance_timeout_ms=500,
    )
    async def handle(body: bytes) -> None:
        consumed.set()

    refresh = consumer_lag_refresher(broker, group)
    await refresh()  # not started: the topic reads 0
    assert sample("annotary_consumer_lag", group=group, topic=topic) == 0
    await broker.start()
    try:
        await broker.publish(b"x", topic)
        await asyncio.wait_for(consumed.wait(), 20)
        for _ in range(50):
            await refresh()
            if sample("annotary_consumer_lag", group=group, topic=topic) == 0:
                break
            await asyncio.sleep(0.1)
        assert sample("annotary_consumer_lag", group=group, topic=topic) == 0
    finally:
        await broker.stop()


# -- gRPC and HTTP instrumentation -------------------------------------------------------------------------------
async def test_grpc_interceptors_carry_the_trace_and_time_calls(spans: InMemorySpanExporter) -> None:
    async def echo(request: bytes, context: Any) -> bytes:
        if request == b"bad":
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "bad request")
        return request

    server = grpc.aio.server(interceptors=[ServerTelemetry("test-svc")])
    server.add_generic_rpc_handlers(
        [grpc.method_handlers_generic_handler("test.v1.Echo", {"Say": grpc.unary_unary_rpc_method_handler(echo)})]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = open_channel(f"127.0.0.1:{port}")
    try:
        say = channel.unary_unary("/test.v1.Echo/Say")
        before = (
            sample("annotary_grpc_server_duration_seconds_count", service="test-svc", method="Echo/Say", code="OK") or 0
        )
        with trace.get_tracer("test").start_as_current_span("caller") as caller:
            assert await say(b"hi", timeout=5) == b"hi"
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await say(b"bad", timeout=5)
        assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    finally:
        await channel.close()
        await server.stop(None)
    assert (
        sample("annotary_grpc_server_duration_seconds_count", service="test-svc", method="Echo/Say", code="OK")
        == before + 1
    )
    assert (
        sample(
            "annotary_grpc_server_duration_seconds_count",
            service="test-svc",
            method="Echo/Say",
            code="INVALID_ARGUMENT",
        )
        or 0
    ) >= 1
    trace_id = caller.get_span_context().trace_id
    server_spans = [s for s in spans.get_finished_spans() if s.kind is trace.SpanKind.SERVER and s.name == "Echo/Say"]
    assert any(s.context.trace_id == trace_id for s in server_spans), "the server span is not in the caller's trace"


async def test_http_middleware_labels_route_templates_and_continues_traces(spans: InMemorySpanExporter) -> None:
    async def thing(request: Request) -> JSONResponse:
        return JSONResponse({"id": request.path_params["project_id"]})

    app = HttpTelemetry(Starlette(routes=[Route("/projects/{project_id}", thing)]), "test-http")
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        assert (await client.get("/projects/p-1", headers={"traceparent": parent})).status_code == 200
        assert (await client.get("/nowhere")).status_code == 404
    assert (
        sample(
            "annotary_http_request_duration_seconds_count",
            service="test-http",
            method="GET",
            route="/projects/{project_id}",
            status="200",
        )
        == 1
    )
    assert (
        sample(
            "annotary_http_request_duration_seconds_count",
            service="test-http",
            method="GET",
            route="unmatched",
            status="404",
        )
        == 1
    )
    span = next(s for s in spans.get_finished_spans() if s.name == "GET /projects/{project_id}")
    assert format(span.context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"
    assert span.attributes is not None and span.attributes[ATTR_PROJECT] == "p-1"


def test_continue_item_trace_parents_on_the_item_and_links_the_request(spans: InMemorySpanExporter) -> None:
    item_trace = {"traceparent": "00-11111111111111111111111111111111-2222222222222222-01"}
    with trace.get_tracer("test").start_as_current_span("request") as request:
        with continue_item_trace("task.submitted", item_trace, project_id="p", item_id="i"):
            pass
    span = next(s for s in spans.get_finished_spans() if s.name == "task.submitted")
    assert format(span.context.trace_id, "032x") == "1" * 32
    assert [link.context.trace_id for link in span.links] == [request.get_span_context().trace_id]


# -- database statements -----------------------------------------------------------------------------------------
async def test_pool_connections_time_every_statement_by_operation() -> None:
    from annotary_common.db import create_pool
    from annotary_common.testing import fresh_database

    service = f"svc-{uuid.uuid4().hex[:6]}"
    schema = service.replace("-", "_")

    def count(operation: str) -> float:
        return sample("annotary_db_query_duration_seconds_count", service=service, operation=operation) or 0

    async with fresh_database("annotary_test_dbtimer") as dsn:
        pool = await create_pool(dsn, schema, max_size=2)
        try:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute("CREATE TABLE things (id int PRIMARY KEY, name text)")
                await conn.executemany("INSERT INTO things VALUES ($1, $2)", [(1, "a"), (2, "b")])
                await conn.execute("UPDATE things SET name = $1 WHERE id = $2", "c", 1)
                assert await conn.fetchval("SELECT count(*) FROM things WHERE name = $1", "c") == 1
                assert len(await conn.fetch("SELECT id FROM things")) == 2
        finally:
            await pool.close()
    assert count("create") == 1
    assert count("insert things") == 1  # executemany: one statement, one observation
    assert count("update things") == 1
    assert count("select things") == 2
    assert count("begin") == 1 and count("commit") == 1
    assert (sample("annotary_db_query_duration_seconds_sum", service=service, operation="select things") or 0) > 0
