"""asyncpg pools bound to one service's schema, and ordered SQL migrations per schema."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from importlib import resources
from typing import Any, ClassVar, cast

import asyncpg

from annotary_common.metrics import DB_QUERY_DURATION, operation_of

log = logging.getLogger(__name__)

_SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]*$")

# Tables every service gets in its own schema: the transactional outbox, the inbox and the consumers' positions.
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
-- per partition, the highest offset the broker acknowledged and the first offset of the latest batch sent there:
-- a record later acknowledged at or below the first, or an end of the log below the second, means the broker
-- lost its log
CREATE TABLE IF NOT EXISTS outbox_offsets (
    topic         text NOT NULL,
    partition     integer NOT NULL,
    last_offset   bigint NOT NULL,
    batch_offset  bigint NOT NULL,
    PRIMARY KEY (topic, partition)
);
CREATE TABLE IF NOT EXISTS inbox (
    consumer      text NOT NULL,
    event_id      uuid NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
-- per consumer group and partition, where to resume and which record came just before it (an event id, or a digest
-- of undecodable bytes), plus the record at offset 0: a group resumes there only while the broker still serves those
-- records at those offsets; otherwise the broker's log is not the one the group read (a broker that restarted on
-- empty storage, a stale commit it accepted) and the group reads the partition again from the start
CREATE TABLE IF NOT EXISTS consumer_positions (
    consumer_group text NOT NULL,
    topic          text NOT NULL,
    partition      integer NOT NULL,
    next_offset    bigint NOT NULL,
    record_id      text NOT NULL,
    first_id       text,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, topic, partition)
);
"""


class TimedConnection(asyncpg.Connection):  # type: ignore[misc]
    """A connection that times each statement into ``annotary_db_query_duration_seconds{service, operation}``
    (operation: :func:`operation_of` the statement). Cheaper than asyncpg's query loggers (no record, no callback
    scheduled per statement): two clock reads and one histogram observation. Made per service by
    :func:`timed_connection_class`."""

    _service: ClassVar[str] = ""
    # per statement text: its histogram child and whether it may leave session state (worked out once per text)
    _children: ClassVar[dict[str, tuple[Any, bool]]] = {}
    # True once a statement may have left state in the session (see _SESSION_STATE_MARKERS): the pool then resets it
    # on release (reset_session_state); most connections never do, and skip that round trip.
    session_state: bool = False

    def _observe(self, query: str, start: float) -> None:
        elapsed = time.perf_counter() - start
        known = self._children.get(query)
        if known is None:
            known = (DB_QUERY_DURATION.labels(self._service, operation_of(query)), _may_leave_session_state(query))
            if len(self._children) < _MAX_TIMED_STATEMENTS:
                self._children[query] = known
        child, leaves_state = known
        if leaves_state:
            self.session_state = True
        child.observe(elapsed)

    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str:
        if args:  # timed in _execute
            return cast(str, await super().execute(query, *args, timeout=timeout))
        start = time.perf_counter()
        try:
            return cast(str, await super().execute(query, timeout=timeout))
        finally:
            self._observe(query, start)

    async def _execute(self, query: str, args: Any, limit: int, timeout: float | None, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return await super()._execute(query, args, limit, timeout, **kwargs)
        finally:
            self._observe(query, start)

    async def _executemany(self, query: str, args: Any, timeout: float | None, *rest: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return await super()._executemany(query, args, timeout, *rest, **kwargs)
        finally:
            self._observe(query, start)


_MAX_TIMED_STATEMENTS = 4096

# What a statement that can leave state in the session past its transaction contains (lower case): a session-level
# advisory lock (pg_advisory_xact_lock ends with the transaction and does not match), LISTEN, set_config, a cursor,
# a temporary table (asyncpg's reset keeps temporary tables; a match only costs the reset); and any statement of the
# string that starts with SET but not SET LOCAL. Statements run through a prepared statement object, a cursor or
# COPY are not watched: nothing here leaves session state that way (a new use must set session_state itself).
_SESSION_STATE_MARKERS = ("advisory_lock", "listen ", "set_config", "declare ", "temp table", "temporary table")


def _may_leave_session_state(query: str) -> bool:
    text = query.lower()
    if any(marker in text for marker in _SESSION_STATE_MARKERS):
        return True
    if "set" not in text:
        return False
    for statement in text.split(";"):
        words = statement.split(None, 2)
        if words and words[0] == "set" and (len(words) < 2 or words[1] != "local"):
            return True
    return False


async def reset_session_state(conn: asyncpg.Connection) -> None:
    """The pool's reset on release (after asyncpg's own: an open transaction rolled back, listeners dropped): the
    server-side reset (advisory locks, cursors, LISTEN, settings) only for a connection that ran a statement that may
    have left any (:class:`TimedConnection` watches); for the others it would be a round trip of four commands on
    every release that changes nothing."""
    if getattr(conn, "session_state", True):
        query = conn.get_reset_query()
        if query:
            await conn.execute(query)
        if isinstance(conn, TimedConnection):
            conn.session_state = False


_timed_classes: dict[str, type[TimedConnection]] = {}


def timed_connection_class(service: str) -> type[TimedConnection]:
    """The :class:`TimedConnection` subclass whose statements are labelled ``service`` (one per service)."""
    cls = _timed_classes.get(service)
    if cls is None:
        cls = type(f"TimedConnection[{service}]", (TimedConnection,), {"_service": service, "_children": {}})
        _timed_classes[service] = cls
    return cls


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
        connection_class=timed_connection_class(schema.replace("_", "-")),
        reset=reset_session_state,
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


def split_dsn(dsn: str) -> tuple[str, str]:
    """(the server's DSN with the maintenance database ``postgres``, the database name)."""
    base, _, name = dsn.rpartition("/")
    return f"{base}/postgres", name.split("?")[0]


async def create_database(dsn: str, *, wait_s: float = 20.0) -> None:
    """Create the database named in ``dsn`` unless it exists (waits for a server that is starting)."""
    admin_dsn, name = split_dsn(dsn)
    deadline = asyncio.get_running_loop().time() + wait_s
    while True:
        try:
            conn = await asyncpg.connect(admin_dsn)
            break
        except (OSError, asyncpg.CannotConnectNowError):
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.2)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def drop_database(dsn: str) -> None:
    admin_dsn, name = split_dsn(dsn)
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
