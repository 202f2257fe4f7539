"""One service process: resources opened in order, closed in reverse on SIGTERM/SIGINT.

A service's ``__main__`` builds a :class:`ServiceRuntime`, opens what it needs (pool, producer,
broker, gRPC server, relay) and calls :meth:`ServiceRuntime.serve`. Health is served on the HTTP
port (``/healthz`` liveness, ``/readyz`` readiness that really checks dependencies, ``/metrics``)
and by the stock ``grpc.health.v1`` servicer on the gRPC port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import asyncpg
import grpc
import uvicorn
from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker
from grpc_health.v1 import _async as health_aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from annotary_common.bus import Consumer, ensure_topics, make_broker, make_producer
from annotary_common.db import create_pool, migrate
from annotary_common.logging import configure_logging
from annotary_common.metrics import CONSUMER_LAG, OUTBOX_BACKLOG, GaugeFamily, Refreshers, partition_lag
from annotary_common.outbox import OutboxRelay
from annotary_common.settings import CommonSettings
from annotary_common.storage import ObjectStore, open_object_store
from annotary_common.telemetry import ServerTelemetry, configure_tracing, shutdown_tracing
from annotary_common.topics import dead_letter_topic

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[None]]


class ServiceRuntime:
    def __init__(self, name: str, settings: CommonSettings) -> None:
        self.name = name
        self.schema = name.replace("-", "_")
        self.group_id = f"annotary-{name}"
        self.settings = settings
        self.stack = contextlib.AsyncExitStack()
        self.checks: dict[str, ReadinessCheck] = {}
        self._tasks: list[asyncio.Task[Any]] = []
        self._grpc_server: grpc.aio.Server | None = None
        self._health: health_aio.HealthServicer | None = None
        self.pool: asyncpg.Pool | None = None
        self.producer: AIOKafkaProducer | None = None
        self.broker: KafkaBroker | None = None
        self._consumer: Consumer | None = None
        configure_logging(name, settings.log_level)
        configure_tracing(name, settings.otlp_endpoint)
        self.stack.callback(shutdown_tracing)  # closed last: flushes the spans of the shutdown too
        # Gauges mirrored from Postgres and the broker, refreshed when /metrics is scraped.
        self.metrics = Refreshers()

    # -- resources ---------------------------------------------------------------------------
    async def open_database(self, migrations_package: str) -> asyncpg.Pool:
        pool = await create_pool(self.settings.database_url, self.schema, max_size=self.settings.database_pool_size)
        self.stack.push_async_callback(pool.close)
        await migrate(pool, self.schema, migrations_package)
        self.pool = pool

        async def check_db() -> None:
            async with pool.acquire(timeout=2.0) as conn:
                await conn.fetchval("SELECT 1")

        self.checks["postgres"] = check_db
        return pool

    async def open_producer(self) -> AIOKafkaProducer:
        await ensure_topics(self.settings, extra=[dead_letter_topic(self.group_id)])
        producer = make_producer(self.settings, self.name)
        await producer.start()
        self.stack.push_async_callback(producer.stop)
        self.producer = producer

        async def check_kafka() -> None:
            await asyncio.wait_for(producer.client.fetch_all_metadata(), 2.0)

        self.checks["kafka"] = check_kafka
        return producer

    async def open_object_store(self) -> ObjectStore:
        """The object store (S3 or the local folder), closed at shutdown and checked by /readyz."""
        store = await self.stack.enter_async_context(open_object_store(self.settings))
        self.checks["object_store"] = store.ping
        return store

    def start_relay(self) -> OutboxRelay:
        assert self.pool is not None and self.producer is not None, "open the database and producer first"
        settings, dead_letters = self.settings, [dead_letter_topic(self.group_id)]

        async def recreate_topics() -> None:  # the broker lost its metadata: consumers wait on vanished topics
            await ensure_topics(settings, extra=dead_letters)

        relay = OutboxRelay(
            self.pool, self.producer, self.schema, bootstrap_servers=settings.kafka_bootstrap,
            on_broker_reset=recreate_topics,
        )
        self.background(relay.run(), "outbox-relay")
        pool, backlog = self.pool, OUTBOX_BACKLOG.labels(self.name)

        async def refresh_backlog() -> None:  # the partial index outbox_unpublished makes this a short scan
            async with pool.acquire(timeout=1.0) as conn:
                backlog.set(await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"))

        self.metrics.add("outbox_backlog", refresh_backlog)
        return relay

    def consumer(self) -> Consumer:
        """The consumer group of this service (group id ``annotary-<name>``); route topics with
        ``subscribe`` before :meth:`start_broker`."""
        assert self.pool is not None and self.producer is not None, "open the database and producer first"
        if self._consumer is None:
            self.broker = make_broker(self.settings, self.name)
            self._consumer = Consumer(
                broker=self.broker,
                pool=self.pool,
                producer=self.producer,
                settings=self.settings,
                group_id=self.group_id,
            )
        return self._consumer

    async def start_broker(self) -> None:
        if self._consumer is not None and self.broker is not None:
            self._consumer.register()
            await self.broker.start()
            self.stack.push_async_callback(self.broker.stop)
            self.stack.push_async_callback(self._consumer.close)  # runs first: handled offsets committed
            self.metrics.add("consumer_lag", consumer_lag_refresher(self.broker, self.group_id))

    async def start_grpc(
        self, port: int, register: Callable[[grpc.aio.Server], None], service_names: list[str]
    ) -> None:
        server = grpc.aio.server(
            interceptors=[ServerTelemetry(self.name)],
            options=[("grpc.max_receive_message_length", 64 << 20), ("grpc.max_send_message_length", 64 << 20)]
        )
        register(server)
        self._health = health_aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        bound = server.add_insecure_port(f"0.0.0.0:{port}")
        if bound == 0:
            raise RuntimeError(f"cannot bind gRPC port {port}")
        await server.start()
        self._grpc_server = server
        for svc in ["", *service_names]:
            await self._health.set(svc, health_pb2.HealthCheckResponse.SERVING)

        async def stop_grpc() -> None:
            if self._health is not None:
                await self._health.enter_graceful_shutdown()
            await server.stop(grace=5.0)

        self.stack.push_async_callback(stop_grpc)

    def background(self, coro: Awaitable[Any], name: str) -> None:
        self._tasks.append(asyncio.ensure_future(coro))
        self._tasks[-1].set_name(name)

    # -- health ------------------------------------------------------------------------------
    async def readiness(self) -> dict[str, str]:
        results: dict[str, str] = {}
        for name, check in self.checks.items():
            try:
                await check()
                results[name] = "ok"
            except Exception as exc:  # a failed dependency is reported, not raised
                results[name] = f"failed: {exc!r}"
        return results

    def health_app(self) -> Starlette:
        async def healthz(_: Request) -> Response:
            return JSONResponse({"status": "ok", "service": self.name})

        async def readyz(_: Request) -> Response:
            results = await self.readiness()
            ok = all(v == "ok" for v in results.values())
            return JSONResponse({"ready": ok, "checks": results}, status_code=200 if ok else 503)

        async def metrics(_: Request) -> Response:
            body, content_type = await self.metrics.render()
            return Response(body, media_type=content_type)

        return Starlette(routes=[Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", metrics)])

    # -- lifecycle ---------------------------------------------------------------------------
    async def run(self, setup: Callable[[], Awaitable[Any]], http_port: int) -> int:
        """Open everything with ``setup`` (which may return the ASGI app to serve on the HTTP port), then serve;
        if the set-up fails, whatever it opened is closed before the error propagates."""
        try:
            app = await setup()
        except BaseException:
            await self.stack.aclose()
            raise
        return await self.serve(http_port, app=app)

    async def serve(self, http_port: int, app: Any = None) -> int:
        """Serve until SIGTERM/SIGINT or a background task dies; returns the exit code."""
        config = uvicorn.Config(
            app or self.health_app(), host="0.0.0.0", port=http_port, log_config=None, access_log=False, lifespan="off"
        )
        server = _QuietServer(config)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        http_task = asyncio.ensure_future(server.serve())
        http_task.set_name("http")
        watched = [*self._tasks, http_task]
        stop_task = asyncio.ensure_future(stop.wait())
        log.info("service started", extra={"http_port": http_port})
        done, _ = await asyncio.wait([stop_task, *watched], return_when=asyncio.FIRST_COMPLETED)
        code = 0
        for task in done:
            if task is not stop_task:
                code = 1
                exc = task.exception() if not task.cancelled() else None
                log.error("background task ended; shutting down", extra={"task": task.get_name(), "error": repr(exc)})
        log.info("service stopping")
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(http_task, 10.0)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        stop_task.cancel()
        await self.stack.aclose()
        log.info("service stopped")
        return code


def consumer_lag_refresher(broker: KafkaBroker, group: str) -> Callable[[], Awaitable[None]]:
    """Refreshes ``annotary_consumer_lag{group, topic}`` from the group's consumers in this process: per assigned
    partition, the high-water mark of the last fetch minus the consumer's position (no broker round trip); topics
    subscribed to but not assigned here read 0."""
    family = GaugeFamily(CONSUMER_LAG)
    topics = sorted({t for sub in broker.subscribers for t in getattr(sub, "topic_names_for_subscribe", ())})

    async def refresh() -> None:
        lag = dict.fromkeys(topics, 0)
        for sub in broker.subscribers:
            consumer = getattr(sub, "consumer", None)
            if consumer is None:
                continue
            assigned = list(consumer.assignment())
            positions: dict[Any, int | None] = {}
            for tp in assigned:
                try:
                    positions[tp] = await asyncio.wait_for(consumer.position(tp), 0.2)
                except (Exception, TimeoutError):  # not positioned yet, or revoked meanwhile
                    positions[tp] = None
            for topic, behind in partition_lag(assigned, consumer.highwater, positions.get).items():
                lag[topic] = lag.get(topic, 0) + behind
        family.set_all({(group, topic): float(n) for topic, n in lag.items()})

    return refresh


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handlers: the runtime owns SIGTERM/SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield
