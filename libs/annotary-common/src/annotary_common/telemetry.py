"""OpenTelemetry set-up and W3C trace-context propagation through event envelopes."""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider


def configure_tracing(service: str, otlp_endpoint: str = "") -> None:
    """Install a tracer provider named after the service; export over OTLP when an endpoint is set."""
    provider = TracerProvider(resource=Resource.create({"service.name": f"annotary-{service}"}))
    if otlp_endpoint:
        try:  # the exporter is an optional extra: deployments with a collector install it
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.trace.export import BatchSpanProcessor

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint, insecure=True)))
        except ImportError:
            pass
    trace.set_tracer_provider(provider)


def current_trace_context() -> dict[str, str]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def context_from(carrier: Mapping[str, str]) -> context.Context:
    return propagate.extract(dict(carrier))
