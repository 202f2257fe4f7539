"""The spans of consuming events: made (and continuing the producer's trace) when spans are exported; skipped when
nothing receives them, the producer's context then carried on unchanged, so the trace id and the logs stay the same.
"""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from annotary.events.v1 import events_pb2
from annotary_common import bus, outbox, telemetry
from annotary_common.events import Event, build_envelope, parse_event
from annotary_common.telemetry import ServiceTracerProvider, current_trace_context, spans_exported

TRACE = "0af7651916cd43dd8448eb211c80319c"
PARENT = "b7ad6b7169203331"
CARRIER = {"traceparent": f"00-{TRACE}-{PARENT}-01", "baggage": "tenant=radiology"}


def ingested(carrier: dict[str, str]) -> Event:
    payload = events_pb2.ItemIngested(
        item=events_pb2.ItemSnapshot(item_id=str(uuid.uuid4()), project_id=str(uuid.uuid4()), text="x")
    )
    envelope = build_envelope("item.ingested", payload.item.item_id, payload, "ingest", trace_context=carrier)
    return parse_event(envelope.SerializeToString())


@pytest.fixture
def unexported(monkeypatch: pytest.MonkeyPatch) -> ServiceTracerProvider:
    """A service's provider with no exporter: what a deployment without a collector runs."""
    provider = ServiceTracerProvider()
    monkeypatch.setattr(telemetry.trace, "get_tracer_provider", lambda: provider)
    return provider


def test_a_service_provider_exports_once_a_span_processor_is_added() -> None:
    provider = ServiceTracerProvider()
    assert provider.exporting is False
    provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    assert provider.exporting is True


def test_a_provider_installed_by_anyone_else_counts_as_exporting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(telemetry.trace, "get_tracer_provider", lambda: TracerProvider())
    assert spans_exported()


def test_unexported_consumption_carries_the_producers_context_unchanged(unexported: ServiceTracerProvider) -> None:
    assert not spans_exported()
    event = ingested(CARRIER)
    assert bus.consumed_context(event) == CARRIER
    with bus.consume_span(event):
        current = trace.get_current_span().get_span_context()
        assert (format(current.trace_id, "032x"), format(current.span_id, "016x")) == (TRACE, PARENT)
        # events staged while handling it carry the producer's trace on
        assert current_trace_context()["traceparent"] == CARRIER["traceparent"]
    assert not trace.get_current_span().get_span_context().is_valid  # detached again on the way out


def test_unexported_consumption_of_an_event_without_context_stays_without(unexported: ServiceTracerProvider) -> None:
    event = ingested({})
    assert bus.consumed_context(event) == {}
    with bus.consume_span(event):
        assert current_trace_context() == {}


def test_exported_consumption_makes_a_child_span_of_the_producers(spans: InMemorySpanExporter) -> None:
    assert spans_exported()
    event = ingested(CARRIER)
    carried = bus.consumed_context(event)
    span = next(s for s in spans.get_finished_spans() if s.attributes.get("annotary.event_id") == event.event_id)
    assert span.name == "consume item.ingested"
    assert format(span.context.trace_id, "032x") == TRACE
    assert span.parent is not None and format(span.parent.span_id, "016x") == PARENT
    assert carried["traceparent"] == f"00-{TRACE}-{format(span.context.span_id, '016x')}-01"


async def test_one_call_stages_every_event_with_the_context_current_then(pool: asyncpg.Pool) -> None:
    payloads = [events_pb2.ItemIngested(item=events_pb2.ItemSnapshot(item_id=str(k))) for k in range(3)]
    with trace.get_tracer("test").start_as_current_span("request"):
        carrier = current_trace_context()
        async with pool.acquire() as conn, conn.transaction():
            ids = await outbox.add_events(
                conn, [("item.ingested", str(k), p) for k, p in enumerate(payloads)], "ingest"
            )
    rows = await pool.fetch("SELECT event_id, envelope FROM outbox ORDER BY id")
    assert [str(r["event_id"]) for r in rows] == ids
    envelopes = [parse_event(bytes(r["envelope"])).envelope for r in rows]
    assert [dict(e.trace_context) for e in envelopes] == [carrier] * 3
    assert carrier["traceparent"].startswith("00-")
    assert [e.key for e in envelopes] == ["0", "1", "2"]
