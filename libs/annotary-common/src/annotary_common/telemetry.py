"""OpenTelemetry set-up and W3C trace-context propagation: event envelopes, gRPC metadata, HTTP headers.

One trace follows an item: the context travels in every event envelope (``trace_context``), in gRPC metadata (the
interceptors below) and in HTTP headers (annotation-api's middleware). Spans carry the ids they know as
``annotary.project_id``, ``annotary.item_id`` and ``annotary.task_id``. Spans are exported over OTLP/gRPC when
``ANNOTARY_OTLP_ENDPOINT`` (or the standard ``OTEL_EXPORTER_OTLP_ENDPOINT``) is set; without one, per-event
consume spans are not made (see :func:`spans_exported`).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any

import grpc
from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from annotary_common.metrics import GRPC_SERVER_DURATION, HTTP_REQUEST_DURATION

ATTR_PROJECT = "annotary.project_id"
ATTR_ITEM = "annotary.item_id"
ATTR_TASK = "annotary.task_id"

_provider: TracerProvider | None = None


class ServiceTracerProvider(TracerProvider):
    """The SDK's provider, knowing whether its ended spans go anywhere (a span processor was added: an exporter, or a
    test's in-memory one). Without one a span is made only to carry ids: see :func:`spans_exported`."""

    exporting = False

    def add_span_processor(self, span_processor: SpanProcessor) -> None:
        super().add_span_processor(span_processor)
        self.exporting = True


def spans_exported() -> bool:
    """Whether ended spans are received by anything. False only under :class:`ServiceTracerProvider` with no span
    processor (no collector configured): per-event spans are then skipped and the producer's context is carried on
    as it came (same trace id; each request still gets its ids, so logs keep their trace ids). A provider installed
    by anyone else counts as exporting."""
    return bool(getattr(trace.get_tracer_provider(), "exporting", True))


def configure_tracing(service: str, otlp_endpoint: str = "") -> TracerProvider:
    """Install a tracer provider named after the service; export over OTLP/gRPC when an endpoint is set (the
    argument, else ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_ENDPOINT``)."""
    global _provider
    endpoint = (
        otlp_endpoint
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
        or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "")
    )
    provider = ServiceTracerProvider(resource=Resource.create({"service.name": f"annotary-{service}"}))
    if endpoint:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        insecure = not endpoint.startswith("https://")
        # A short export timeout: a collector that is away must not hold up a service's shutdown for long.
        exporter = OTLPSpanExporter(endpoint=endpoint, insecure=insecure, timeout=5)
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _provider = provider
    return provider


def shutdown_tracing() -> None:
    """Flush and stop the exporter (at process exit), so the last spans are not lost."""
    if _provider is not None:
        _provider.shutdown()


def current_trace_context() -> dict[str, str]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def context_from(carrier: Mapping[str, str]) -> context.Context:
    return propagate.extract(dict(carrier))


def set_ids(*, project_id: object = None, item_id: object = None, task_id: object = None) -> None:
    """Put the ids known here on the current span (nothing when the span is not recording)."""
    span = trace.get_current_span()
    if not span.is_recording():
        return
    if project_id:
        span.set_attribute(ATTR_PROJECT, str(project_id))
    if item_id:
        span.set_attribute(ATTR_ITEM, str(item_id))
    if task_id:
        span.set_attribute(ATTR_TASK, str(task_id))


_tracer = trace.get_tracer("annotary")


@contextlib.contextmanager
def continue_item_trace(
    name: str, carrier: str | Mapping[str, str] | None, *, project_id: object = None, item_id: object = None
) -> Iterator[None]:
    """A span in the item's own trace (``carrier``: its propagation headers, or their JSON), linked to the current
    span; with no carrier it is simply a child of the current span. Events staged inside it carry the item's trace,
    so work that a request starts (a submission) continues the trace that the item's ingestion began."""
    headers = json.loads(carrier) if isinstance(carrier, str) else dict(carrier or {})
    current = trace.get_current_span().get_span_context()
    parent = propagate.extract(headers) if headers else None
    links = [trace.Link(current)] if headers and current.is_valid else None
    attributes = {k: str(v) for k, v in ((ATTR_PROJECT, project_id), (ATTR_ITEM, item_id)) if v}
    with _tracer.start_as_current_span(name, context=parent, links=links, attributes=attributes):
        yield


def ids_of(payload: Any) -> dict[str, str]:
    """Span attributes for the ids an event payload names: its ``item`` snapshot's, else its own ``item_id`` /
    ``project_id`` / ``task_id`` fields."""
    source = getattr(payload, "item", None)
    if source is None or not hasattr(source, "item_id"):
        source = payload
    ids = {
        ATTR_PROJECT: getattr(source, "project_id", "") or getattr(payload, "project_id", ""),
        ATTR_ITEM: getattr(source, "item_id", ""),
        ATTR_TASK: getattr(payload, "task_id", ""),
    }
    return {k: v for k, v in ids.items() if isinstance(v, str) and v}


# -- gRPC --------------------------------------------------------------------------------------------------------
_server_tracer = trace.get_tracer("annotary.grpc.server")
_SKIPPED_PREFIX = "/grpc.health."  # probes: neither spans nor metrics


def _method_name(full: str) -> str:
    """``/pkg.Service/Method`` -> ``Service/Method`` (the label value)."""
    service, _, method = full.lstrip("/").rpartition("/")
    return f"{service.rpartition('.')[2]}/{method}"


class _Call:
    """One server call: a SERVER span whose parent comes from the caller's metadata, and the duration histogram."""

    __slots__ = ("_ctx", "_label", "_method", "_span", "_start", "_token")

    def __init__(self, method: str, metadata: Any, service: str) -> None:
        carrier = {k: v for k, v in (metadata or ()) if isinstance(v, str)}
        self._method = method
        self._label = _method_name(method)
        self._ctx = propagate.extract(carrier)
        self._span = _server_tracer.start_span(
            self._label,
            context=self._ctx,
            kind=SpanKind.SERVER,
            attributes={"rpc.system": "grpc", "rpc.method": method, "annotary.service": service},
        )
        self._token = context.attach(trace.set_span_in_context(self._span, self._ctx))
        self._start = time.perf_counter()

    def finish(self, service: str, servicer_context: Any, error: BaseException | None) -> None:
        code = _code_of(servicer_context, error)
        GRPC_SERVER_DURATION.labels(service, self._label, code.name).observe(time.perf_counter() - self._start)
        self._span.set_attribute("rpc.grpc.status_code", code.value[0])
        if code not in (grpc.StatusCode.OK, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
            self._span.set_status(Status(StatusCode.ERROR, code.name))
        context.detach(self._token)
        self._span.end()


def _code_of(servicer_context: Any, error: BaseException | None) -> grpc.StatusCode:
    """The call's status: what the handler set (abort sets it), else OK, CANCELLED or UNKNOWN from the outcome."""
    try:
        code = servicer_context.code()
    except Exception:  # a context without code(): judge by the outcome
        code = None
    if isinstance(code, grpc.StatusCode) and not (error is not None and code is grpc.StatusCode.OK):
        return code
    if error is None:
        return grpc.StatusCode.OK
    return grpc.StatusCode.CANCELLED if isinstance(error, asyncio.CancelledError) else grpc.StatusCode.UNKNOWN


class ServerTelemetry(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    """Every server call: a span continuing the caller's trace, and ``annotary_grpc_server_duration_seconds``
    by method and status code."""

    def __init__(self, service: str) -> None:
        self._service = service

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Any],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        handler = await continuation(handler_call_details)
        method: str = handler_call_details.method
        if handler is None or method.startswith(_SKIPPED_PREFIX):
            return handler
        metadata = handler_call_details.invocation_metadata
        service = self._service
        if handler.unary_unary is not None:
            inner_uu = handler.unary_unary

            async def unary_unary(request: Any, ctx: Any) -> Any:
                call = _Call(method, metadata, service)
                error: BaseException | None = None
                try:
                    return await inner_uu(request, ctx)
                except BaseException as exc:
                    error = exc
                    raise
                finally:
                    call.finish(service, ctx, error)

            return grpc.unary_unary_rpc_method_handler(
                unary_unary, handler.request_deserializer, handler.response_serializer
            )
        if handler.stream_unary is not None:
            inner_su = handler.stream_unary

            async def stream_unary(requests: Any, ctx: Any) -> Any:
                call = _Call(method, metadata, service)
                error: BaseException | None = None
                try:
                    return await inner_su(requests, ctx)
                except BaseException as exc:
                    error = exc
                    raise
                finally:
                    call.finish(service, ctx, error)

            return grpc.stream_unary_rpc_method_handler(
                stream_unary, handler.request_deserializer, handler.response_serializer
            )
        inner = handler.unary_stream or handler.stream_stream
        make = (
            grpc.unary_stream_rpc_method_handler
            if handler.unary_stream is not None
            else grpc.stream_stream_rpc_method_handler
        )
        if inspect.isasyncgenfunction(inner):

            async def streaming_gen(request: Any, ctx: Any) -> AsyncIterator[Any]:
                call = _Call(method, metadata, service)
                error: BaseException | None = None
                try:
                    async for reply in inner(request, ctx):
                        yield reply
                except BaseException as exc:
                    error = exc
                    raise
                finally:
                    call.finish(service, ctx, error)

            return make(streaming_gen, handler.request_deserializer, handler.response_serializer)

        async def streaming(request: Any, ctx: Any) -> Any:
            call = _Call(method, metadata, service)
            error: BaseException | None = None
            try:
                return await inner(request, ctx)
            except BaseException as exc:
                error = exc
                raise
            finally:
                call.finish(service, ctx, error)

        return make(streaming, handler.request_deserializer, handler.response_serializer)


def _with_context(details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
    carrier = current_trace_context()
    if not carrier:
        return details
    metadata = grpc.aio.Metadata(*tuple(details.metadata or ()))
    for key, value in carrier.items():
        metadata.add(key, value)
    return grpc.aio.ClientCallDetails(
        details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
    )


class _UnaryUnaryClient(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[type-arg]
    async def intercept_unary_unary(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return await continuation(_with_context(client_call_details), request)


class _UnaryStreamClient(grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[type-arg]
    async def intercept_unary_stream(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return await continuation(_with_context(client_call_details), request)


class _StreamUnaryClient(grpc.aio.StreamUnaryClientInterceptor):  # type: ignore[type-arg]
    async def intercept_stream_unary(self, continuation: Any, client_call_details: Any, request_iterator: Any) -> Any:
        return await continuation(_with_context(client_call_details), request_iterator)


class _StreamStreamClient(grpc.aio.StreamStreamClientInterceptor):  # type: ignore[type-arg]
    async def intercept_stream_stream(self, continuation: Any, client_call_details: Any, request_iterator: Any) -> Any:
        return await continuation(_with_context(client_call_details), request_iterator)


def client_interceptors() -> list[Any]:
    """Interceptors that carry the current trace context to the server in the call's metadata. No CLIENT spans: the
    server's span (a child of the caller's) and the caller's own span say enough, at a third of the cost."""
    return [_UnaryUnaryClient(), _UnaryStreamClient(), _StreamUnaryClient(), _StreamStreamClient()]


# -- HTTP --------------------------------------------------------------------------------------------------------
_http_tracer = trace.get_tracer("annotary.http")
_UNTRACED_PATHS = frozenset({"/metrics", "/healthz", "/readyz"})
_PROPAGATED = (b"traceparent", b"tracestate", b"baggage")


class HttpTelemetry:
    """ASGI middleware: a SERVER span per request (continuing a caller's ``traceparent``) and
    ``annotary_http_request_duration_seconds{service, method, route, status}`` where ``route`` is the matched route
    template (``/api/v1/tasks/{task_id}/submit``), never the raw path."""

    def __init__(self, app: Any, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        method: str = scope["method"]
        status = 500
        span = None
        token = None
        if scope["path"] not in _UNTRACED_PATHS:
            carrier = {k.decode(): v.decode("latin-1") for k, v in scope.get("headers", ()) if k in _PROPAGATED}
            parent = propagate.extract(carrier) if carrier else None
            span = _http_tracer.start_span(
                method, context=parent, kind=SpanKind.SERVER, attributes={"http.request.method": method}
            )
            token = context.attach(trace.set_span_in_context(span, parent))

        async def send_status(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            HTTP_REQUEST_DURATION.labels(self.service, method, route, str(status)).observe(time.perf_counter() - start)
            if span is not None:
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)
                params = scope.get("path_params") or {}
                for attr, key in ((ATTR_PROJECT, "project_id"), (ATTR_ITEM, "item_id"), (ATTR_TASK, "task_id")):
                    if isinstance(params.get(key), str):
                        span.set_attribute(attr, params[key])
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))
                if token is not None:
                    context.detach(token)
                span.end()
