"""asyncpg pools bound to one service's schema, and ordered SQL migrations per schema."""

from __future__ import annotations

import logging
import re
from importlib import resources
from typing import Any

import asyncpg

log = logging.getLogger(__name__)

_SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]*$")

# Tables every service gets in its own schema: the transactional outbox and the inbox.
_PLUMBING_SQL = """
CREATE TABLE IF NOT EXISTS outbox (
    id            bigserial PRIMARY KEY,
    event_id      uuid NOT NULL UNIQUE,
    topic         text NOT NULL,
    key           text NOT NULL,
    envelope      bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz
);
CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
CREATE TABLE IF NOT EXISTS inbox (
    consumer      text NOT NULL,
    event_id      uuid NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
"""


def check_schema_name(schema: str) -> str:
    if not _SCHEMA_RE.match(schema):
        raise ValueError(f"invalid schema name {schema!r}")
    return schema


async def create_pool(dsn: str, schema: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    """A pool whose connections resolve unqualified names in the service's own schema."""
    check_schema_name(schema)
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        server_settings={"search_path": f"{schema},public", "application_name": f"annotary-{schema}"},
    )
    assert pool is not None
    return pool


async def migrate(pool: asyncpg.Pool, schema: str, package: str) -> list[str]:
    """Apply ``<package>/migrations/NNN_*.sql`` in order, each once, under an advisory lock.

    Returns the names applied now. Safe to run from several replicas at once.
    """
    check_schema_name(schema)
    files = sorted(
        (entry for entry in resources.files(package).joinpath("migrations").iterdir() if entry.name.endswith(".sql")),
        key=lambda entry: entry.name,
    )
    applied: list[str] = []
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock(hashtext($1))", f"annotary-migrate-{schema}")
        try:
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            await conn.execute(f"SET search_path TO {schema}, public")
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations"
                " (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            async with conn.transaction():
                await conn.execute(_PLUMBING_SQL)
            done = {row["name"] for row in await conn.fetch("SELECT name FROM schema_migrations")}
            for entry in files:
                if entry.name in done:
                    continue
                async with conn.transaction():
                    await conn.execute(entry.read_text())
                    await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", entry.name)
                applied.append(entry.name)
                log.info("migration applied", extra={"schema": schema, "migration": entry.name})
        finally:
            await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", f"annotary-migrate-{schema}")
    return applied


def record_to_dict(record: asyncpg.Record | None) -> dict[str, Any] | None:
    return dict(record) if record is not None else None
