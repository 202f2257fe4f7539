"""Helpers for the services' tests that run on the real Postgres: a fresh database per test (or module),
migrated like the service migrates it at start-up, dropped afterwards."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator

import asyncpg

from annotary_common.db import create_database, create_pool, drop_database, migrate

# The server to make test databases on (a DSN without a database name).
PG_SERVER = os.environ.get("ANNOTARY_TEST_PG", "postgresql://postgres@127.0.0.1:5432")


@contextlib.asynccontextmanager
async def fresh_database(prefix: str = "annotary_test") -> AsyncIterator[str]:
    """A new, empty database with a random name; yields its DSN and drops it afterwards."""
    dsn = f"{PG_SERVER}/{prefix}_{uuid.uuid4().hex[:10]}"
    await create_database(dsn)
    try:
        yield dsn
    finally:
        await drop_database(dsn)


@contextlib.asynccontextmanager
async def migrated_pool(schema: str, package: str, *, dsn: str | None = None,
                        min_size: int = 1, max_size: int = 4) -> AsyncIterator[asyncpg.Pool]:
    """A pool bound to ``schema`` with ``package``'s migrations applied, on ``dsn`` or a fresh database."""
    async with contextlib.AsyncExitStack() as stack:
        if dsn is None:
            dsn = await stack.enter_async_context(fresh_database(f"annotary_test_{schema}"))
        pool = await create_pool(dsn, schema, min_size=min_size, max_size=max_size)
        stack.push_async_callback(pool.close)
        await migrate(pool, schema, package)
        yield pool
