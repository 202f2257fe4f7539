"""Done-when: the lease query plan is an index scan at 1,000,000 tasks (EXPLAIN), never a Seq Scan or a Sort.

The module's own database gets 1,000,000 tasks in one project (500,000 items x 2 slots: 30% submitted, 1% leased, by
200 annotators, priorities and scores spread), 50,000 skips, then ANALYZE. The fill turns foreign-key triggers off
(``session_replication_role = replica``, superuser) because the lease path never reads ``items``; without that
privilege it inserts the items too (slower).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import asyncpg
import pytest

from annotary_orchestrator.service_layer import leasing, reaper, transitions

TASKS = 1_000_000
PROJECT = uuid.UUID("00000000-0000-4000-8000-000000000001")
_ITEM = "('00000000-0000-0000-0000-' || lpad(to_hex({}), 12, '0'))::uuid"

_FILL_TASKS = f"""
INSERT INTO tasks (task_id, seq, item_id, project_id, slot, round, state, annotator_id, priority, score,
                   lease_expires_at, leased_at)
SELECT gen_random_uuid(), g, {_ITEM.format('g / 2')}, $1, g % 2, 1,
       CASE WHEN g % 100 < 30 THEN 'submitted' WHEN g % 100 = 30 THEN 'assigned' ELSE 'unassigned' END,
       CASE WHEN g % 100 <= 30 THEN 'ann-' || (g % 200) END,
       (g % 3)::int, (g % 7) / 7.0,
       CASE WHEN g % 100 = 30 THEN now() + make_interval(secs => 60 + g % 3600) END,
       CASE WHEN g % 100 = 30 THEN now() - make_interval(secs => g % 600) END
FROM generate_series(0, $2 - 1) g
"""
_FILL_ITEMS = f"""
INSERT INTO items (item_id, project_id, state, snapshot)
SELECT {_ITEM.format('g')}, $1, 'unassigned', '\\x'::bytea FROM generate_series(0, $2 / 2) g
"""
_FILL_SKIPS = f"""
INSERT INTO skips (item_id, annotator_id, task_id, round)
SELECT {_ITEM.format('g')}, 'ann-' || (g % 200), gen_random_uuid(), 1 FROM generate_series(1, 50000) g
"""


@pytest.fixture(scope="module")
def filled(database_url: str) -> Iterator[str]:
    async def fill() -> float:
        started = time.monotonic()
        conn = await asyncpg.connect(database_url, server_settings={"search_path": "orchestrator"})
        try:
            await conn.execute("INSERT INTO projects (id, policy) VALUES ($1, '{}')", PROJECT)
            async with conn.transaction():
                try:
                    await conn.execute("SET LOCAL session_replication_role = replica")
                except asyncpg.InsufficientPrivilegeError:
                    await conn.execute(_FILL_ITEMS, PROJECT, TASKS)
                await conn.execute(_FILL_TASKS, PROJECT, TASKS)
                await conn.execute(_FILL_SKIPS)
            await conn.execute("ANALYZE tasks; ANALYZE skips; ANALYZE items")
            assert await conn.fetchval("SELECT count(*) FROM tasks") == TASKS
        finally:
            await conn.close()
        return time.monotonic() - started

    seconds = asyncio.run(fill())
    print(f"filled {TASKS} tasks in {seconds:.1f}s")
    yield database_url


async def plan(database_url: str, sql: str, *args: object, generic: bool = False) -> str:
    conn = await asyncpg.connect(database_url, server_settings={"search_path": "orchestrator"})
    try:
        if generic:  # the plan a prepared statement settles on after five executions
            await conn.execute("SET plan_cache_mode = force_generic_plan")
        stmt = await conn.prepare("EXPLAIN " + sql)
        return "\n".join(r[0] for r in await stmt.fetch(*args))
    finally:
        await conn.close()


def assert_index_only(text: str, index: str) -> None:
    assert f"Index Scan using {index} on tasks t" in text or f"Index Scan using {index} on tasks " in text, text
    assert "Seq Scan" not in text, text
    assert "Sort" not in text, text
    assert "Bitmap" not in text, text


@pytest.mark.parametrize("generic", [False, True], ids=["custom", "generic"])
@pytest.mark.parametrize("annotator", ["ann-7", "newcomer"])
def test_the_lease_query_walks_the_queue_index(filled: str, annotator: str, generic: bool) -> None:
    text = asyncio.run(plan(filled, leasing.PICK_SQL, PROJECT, annotator, generic=generic))
    assert_index_only(text, "tasks_queue")
    # The anti-joins probe indexes too: the annotator's slots and skips, per candidate or as one range.
    assert "tasks_one_slot_per_annotator" in text and "skips_pkey" in text, text


@pytest.mark.parametrize("generic", [False, True], ids=["custom", "generic"])
def test_the_statement_a_lease_runs_walks_the_queue_index_too(filled: str, generic: bool) -> None:
    """What a regular lease executes: the pick, the task's update, its history row and the annotator's count in one
    statement (EXPLAIN without ANALYZE writes nothing)."""
    sql = transitions._assign_picked_sql(leasing.PICK_SQL)
    text = asyncio.run(plan(filled, sql, PROJECT, "ann-7", 60.0, 1, False, generic=generic))
    pick, _, writes = text.partition("CTE assigned")
    assert writes, text
    assert_index_only(pick, "tasks_queue")
    assert "tasks_one_slot_per_annotator" in pick and "skips_pkey" in pick, text
    # the writes find their rows by key (the item's few predictions are sorted by model version, as before)
    assert "Seq Scan" not in writes and "Index Scan using tasks_pkey" in writes, text
    assert "Index Scan using annotators_pkey" in writes, text


def test_the_lease_query_takes_the_head_of_the_queue_at_once(filled: str) -> None:
    async def run() -> tuple[str, float]:
        conn = await asyncpg.connect(filled, server_settings={"search_path": "orchestrator"})
        try:
            async with conn.transaction():
                started = time.perf_counter()
                row = await conn.fetchrow(leasing.PICK_SQL, PROJECT, "ann-7")
                elapsed = time.perf_counter() - started
            assert row is not None
            analyzed = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + leasing.PICK_SQL, PROJECT, "ann-7")
            return "\n".join(r[0] for r in analyzed), elapsed
        finally:
            await conn.close()

    text, elapsed = asyncio.run(run())
    assert "Seq Scan" not in text and "Sort" not in text, text
    assert elapsed < 0.5, f"the lease pick took {elapsed:.3f}s at {TASKS} tasks"


def test_the_other_lease_path_queries_use_their_indexes(filled: str) -> None:
    held = asyncio.run(plan(filled, leasing._HELD_SQL, PROJECT, "ann-7"))
    assert "tasks_held" in held and "Seq Scan" not in held and "Sort" not in held, held
    for sql, args in [(reaper._EXPIRED_SQL, (100, PROJECT)), (reaper._EXPIRED_SQL, (100, None)),
                      (reaper._ANY_EXPIRED_SQL, (PROJECT,))]:
        sweep = asyncio.run(plan(filled, sql, *args))
        assert "tasks_lease_expiry" in sweep and "Seq Scan" not in sweep and "Sort" not in sweep, sweep
