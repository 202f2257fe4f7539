"""The orchestrator's gauges mirrored from its tables, refreshed when /metrics is scraped."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg

from annotary_common.metrics import QUEUE_DEPTH, GaugeFamily

# Items per project and state: an index-only walk of items_project_state (gold items are outside the states).
QUEUE_DEPTH_SQL = (
    "SELECT project_id::text AS project, state, count(*) AS n FROM items WHERE state <> 'gold' GROUP BY 1, 2"
)


def queue_depth_refresher(pool: asyncpg.Pool) -> Callable[[], Awaitable[None]]:
    """Sets ``annotary_queue_depth{project, state}``; a state that emptied reads 0."""
    family = GaugeFamily(QUEUE_DEPTH)

    async def refresh() -> None:
        async with pool.acquire(timeout=1.0) as conn:
            rows = await conn.fetch(QUEUE_DEPTH_SQL)
        family.set_all({(r["project"], r["state"]): float(r["n"]) for r in rows})

    return refresh
