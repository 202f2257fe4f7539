"""A pooled connection is reset on release only when it may hold session state (real Postgres)."""

from __future__ import annotations

import contextlib

import asyncpg

from annotary_common.db import create_pool
from annotary_common.testing import fresh_database


async def test_release_resets_only_a_connection_that_may_hold_session_state() -> None:
    async with fresh_database("annotary_test_reset") as dsn:
        pool = await create_pool(dsn, "public", min_size=1, max_size=1)  # one connection: each acquire gets it again
        try:
            ran: list[str] = []
            async with pool.acquire() as conn:
                backend = await conn.fetchval("SELECT pg_backend_pid()")
                conn.add_query_logger(lambda record: ran.append(record.query))
                default_timeout = await conn.fetchval("SHOW statement_timeout")

            async def release_after(*statements: str) -> list[str]:
                ran.clear()
                async with pool.acquire() as conn:
                    assert await conn.fetchval("SELECT pg_backend_pid()") == backend
                    for statement in statements:
                        await conn.execute(statement)
                return [q for q in ran if "RESET ALL" in q]

            # plain work (an UPDATE's SET, SET LOCAL and a transaction-level advisory lock in a transaction
            # included): no reset round trip on release
            assert await release_after("CREATE TABLE IF NOT EXISTS t (x int)", "UPDATE t SET x = 1",
                                       "BEGIN", "SET LOCAL work_mem = '8MB'", "SELECT pg_advisory_xact_lock(5)",
                                       "COMMIT") == []
            # each kind of session state is reset, and the next holder finds none of it
            for statement in ("SELECT pg_advisory_lock(42)", "SET statement_timeout = '7s'", 'LISTEN "chan"',
                              "SELECT set_config('statement_timeout', '9s', false)", "SET\n\tstatement_timeout = 3",
                              "SELECT 1; SET statement_timeout = 4", "CREATE TEMP TABLE scratch (x int)"):
                assert len(await release_after(statement)) == 1, statement
                async with pool.acquire() as conn:
                    assert await conn.fetchval(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()") == 0
                    assert await conn.fetchval("SHOW statement_timeout") == default_timeout
                    assert await conn.fetchval("SELECT count(*) FROM pg_listening_channels()") == 0
                assert await release_after("SELECT 1") == []  # clean again after the reset
            # an advisory lock taken by a statement that failed afterwards still counts
            async with pool.acquire() as conn:
                with contextlib.suppress(asyncpg.DivisionByZeroError):  # the lock is taken, then the row fails
                    await conn.execute("SELECT pg_advisory_lock(7), 1 / (x - x) FROM (VALUES (1)) AS v(x)")
            async with pool.acquire() as conn:
                assert await conn.fetchval(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()") == 0
        finally:
            await pool.close()
