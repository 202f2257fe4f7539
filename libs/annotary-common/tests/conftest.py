"""The bus on real infrastructure: a Kafka-protocol broker (Tansu) started per test and a fresh Postgres
database with the outbox/inbox tables every service gets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from annotary_cli.infra import start_broker
from annotary_common.db import _PLUMBING_SQL, create_pool
from annotary_common.settings import CommonSettings
from annotary_common.testing import fresh_database

SCHEMA = "bustest"


@pytest.fixture(scope="session")
def spans() -> Iterator[InMemorySpanExporter]:
    """Every span the process ends from now on (the global SDK provider, installed here when none is)."""
    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()


@pytest.fixture()
def bootstrap(tmp_path: Path) -> Iterator[str]:
    broker, address = start_broker(tmp_path)
    try:
        yield address
    finally:
        broker.stop()


@pytest.fixture()
def settings(bootstrap: str) -> CommonSettings:
    return CommonSettings(kafka_bootstrap=bootstrap, kafka_partitions=1, kafka_fast_rebalance=True)


@pytest.fixture()
async def pool() -> AsyncIterator[asyncpg.Pool]:
    async with fresh_database("annotary_test_bus") as dsn:
        pool = await create_pool(dsn, SCHEMA, max_size=4)
        try:
            async with pool.acquire() as conn:
                await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
                await conn.execute(_PLUMBING_SQL)
                await conn.execute("CREATE TABLE applied (event_id uuid NOT NULL, item_id text NOT NULL)")
            yield pool
        finally:
            await pool.close()


Eventually = Callable[[Callable[[], Awaitable[bool]], str], Awaitable[None]]


@pytest.fixture()
def eventually() -> Eventually:
    """``await eventually(check, what)``: poll ``check`` until it holds, failing after 30 s."""

    async def wait(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not await check():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}")
            await asyncio.sleep(0.05)

    return wait
