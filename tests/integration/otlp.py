"""An OTLP/gRPC trace receiver inside the test process: the services export their spans to it, the tests read them.

It implements ``opentelemetry.proto.collector.trace.v1.TraceService`` (what an OpenTelemetry collector serves) and
keeps the spans in memory, each flattened to its trace id, service name, span name and attributes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from annotary_cli.infra import free_port

MAX_SPANS = 500_000


@dataclass(frozen=True)
class ReceivedSpan:
    trace_id: str
    span_id: str
    parent_span_id: str
    service: str
    name: str
    attributes: dict[str, Any] = field(default_factory=dict)
    links: tuple[str, ...] = ()  # trace ids of the linked spans


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


class _Servicer(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, receiver: OtlpReceiver) -> None:
        self._receiver = receiver

    def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: grpc.ServicerContext
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        received = []
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            service = str(resource.get("service.name", ""))
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        ReceivedSpan(
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            service=service,
                            name=span.name,
                            attributes={a.key: _value(a.value) for a in span.attributes},
                            links=tuple(link.trace_id.hex() for link in span.links),
                        )
                    )
        self._receiver.add(received)
        return trace_service_pb2.ExportTraceServiceResponse()


class OtlpReceiver:
    def __init__(self) -> None:
        self.port = free_port()
        self._spans: list[ReceivedSpan] = []
        self._lock = threading.Lock()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_Servicer(self), self._server)
        if self._server.add_insecure_port(f"127.0.0.1:{self.port}") == 0:
            raise RuntimeError(f"cannot bind the OTLP receiver on port {self.port}")

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> OtlpReceiver:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop(grace=1.0)

    def add(self, spans: list[ReceivedSpan]) -> None:
        with self._lock:
            if len(self._spans) < MAX_SPANS:
                self._spans.extend(spans)

    def spans(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self._spans)

    def wait_for(self, check: Callable[[list[ReceivedSpan]], Any], timeout: float = 30.0, interval: float = 0.2) -> Any:
        """Poll until ``check(spans)`` returns something truthy; returns it, or the last falsy answer on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            found = check(self.spans())
            if found or time.monotonic() > deadline:
                return found
            time.sleep(interval)
