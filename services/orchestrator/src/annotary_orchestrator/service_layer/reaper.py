"""Expired leases back to the queue: the reaper (a background task of every replica) and the sweep a lease call does
in its project first (so leasing also picks expired leases).

Safe with any number of replicas: expired leases are locked with ``FOR UPDATE SKIP LOCKED``, so two reapers (or a
reaper and a lease call) take disjoint batches, and a lease that a heartbeat or a submission holds is skipped (the
row is re-checked after the lock, so a heartbeat that just extended it wins).
"""

from __future__ import annotations

import asyncio
import logging
import uuid

import asyncpg

from annotary_orchestrator.service_layer.common import SYSTEM_ACTOR
from annotary_orchestrator.service_layer.transitions import TASK_COLUMNS, TaskRow, release_tasks

log = logging.getLogger(__name__)

REAP_BATCH = 500

EXPIRED = "state = 'assigned' AND lease_expires_at < now()"  # a lease to re-queue (index tasks_lease_expiry)

_EXPIRED_SQL = f"""
SELECT {TASK_COLUMNS} FROM tasks
WHERE {EXPIRED} AND ($2::uuid IS NULL OR project_id = $2)
ORDER BY lease_expires_at
LIMIT $1
FOR UPDATE SKIP LOCKED
"""


def _expired_reason(task: TaskRow) -> str:
    return f"lease of {task.annotator_id!r} expired"


_ANY_EXPIRED_SQL = f"""
SELECT EXISTS (SELECT 1 FROM tasks WHERE {EXPIRED} AND ($1::uuid IS NULL OR project_id = $1))
"""


async def requeue_expired(conn: asyncpg.Connection, *, limit: int = REAP_BATCH,
                          project_id: uuid.UUID | None = None, probe: bool = True) -> int:
    """Re-queue up to ``limit`` expired leases (of one project, or all) in one transaction; returns how many.
    ``probe=False``: the caller saw an expired lease already (skip the check that there is one)."""
    if probe and not await conn.fetchval(_ANY_EXPIRED_SQL, project_id):  # the usual case: one cheap index probe
        return 0
    async with conn.transaction():
        rows = await conn.fetch(_EXPIRED_SQL, limit, project_id)
        tasks = [TaskRow.from_record(r) for r in rows]
        if tasks:
            await release_tasks(conn, tasks, actor=SYSTEM_ACTOR, reason=_expired_reason)
    if tasks:
        log.info("expired leases re-queued", extra={"count": len(tasks),
                                                    "project_id": str(project_id) if project_id else None})
    return len(tasks)


async def reap_once(pool: asyncpg.Pool, batch: int = REAP_BATCH) -> int:
    """Re-queue every lease expired by now, batch by batch."""
    total = 0
    while True:
        async with pool.acquire() as conn:
            n = await requeue_expired(conn, limit=batch)
        total += n
        if n < batch:
            return total


async def run_reaper(pool: asyncpg.Pool, interval_s: float) -> None:
    """Forever: reap, sleep ``interval_s``. A failed pass is logged and retried on the next tick."""
    while True:
        try:
            await reap_once(pool)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("lease reaper pass failed; retrying")
        await asyncio.sleep(interval_s)
