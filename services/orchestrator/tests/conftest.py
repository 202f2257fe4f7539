"""Fixtures for the tests that run on the real Postgres (127.0.0.1:5432, trust auth, user postgres).

Each test module gets a database of its own with a random name, migrated, dropped at the end. Tests in a module
isolate from each other by using fresh project ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from google.protobuf.message import Message

from annotary.events.v1 import events_pb2
from annotary_common import topics
from annotary_common.db import create_database, create_pool, drop_database
from annotary_common.events import Event, build_envelope
from annotary_common.testing import PG_SERVER, migrated_pool
from annotary_orchestrator.domain.policy import Policy
from annotary_orchestrator.service_layer import events, projects

SCHEMA = "orchestrator"


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    """A migrated database of its own (random name), dropped afterwards; yields its DSN."""
    dsn = f"{PG_SERVER}/annotary_orch_test_{secrets.token_hex(6)}"

    async def create() -> None:
        await create_database(dsn)
        async with migrated_pool(SCHEMA, "annotary_orchestrator", dsn=dsn):
            pass

    asyncio.run(create())
    try:
        yield dsn
    finally:
        asyncio.run(drop_database(dsn))


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    """A fresh database per test module."""
    with fresh_database() as dsn:
        yield dsn


@pytest_asyncio.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, SCHEMA, min_size=2, max_size=30)
    try:
        yield pool
    finally:
        await pool.close()


def make_event(topic: str, key: str, payload: Message, producer: str = "test") -> Event:
    return Event(envelope=build_envelope(topic, key, payload, producer), payload=payload)



MakeProject = Callable[..., Awaitable[str]]
Ingest = Callable[..., Awaitable[str]]


@pytest.fixture
def make_project(pool: asyncpg.Pool) -> MakeProject:
    async def make(overlap: int = 1, lease_seconds: int = 60, schema_version: int = 0, **policy: Any) -> str:
        project_id = str(uuid.uuid4())
        async with pool.acquire() as conn:
            await projects.configure_project(conn, project_id,
                                             Policy(overlap=overlap, lease_seconds=lease_seconds, **policy),
                                             schema_version)
        return project_id

    return make


@pytest.fixture
def ingest(pool: asyncpg.Pool) -> Ingest:
    """Run the item.ingested handler (in one transaction, as the consumer does) and return the item id."""

    async def run(project_id: str, external_id: str = "", predictions: tuple[tuple[str, float, str], ...] = (),
                  item_id: str | None = None, gold: str = "") -> str:
        item_id = item_id or str(uuid.uuid4())
        payload = events_pb2.ItemIngested(
            item=events_pb2.ItemSnapshot(item_id=item_id, project_id=project_id, external_id=external_id or item_id,
                                         modality="text", text=f"text of {external_id or item_id}"),
            predictions=[events_pb2.Prediction(model_version=v, score=s, result_json=r) for v, s, r in predictions],
            gold_json=gold,
        )
        async with pool.acquire() as conn, conn.transaction():
            await events.on_item_ingested(conn, make_event(topics.ITEM_INGESTED, item_id, payload))
        return item_id

    return run
