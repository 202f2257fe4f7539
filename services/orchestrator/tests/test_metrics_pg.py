"""The orchestrator's metrics and trace hooks on the real Postgres: submissions per annotator and task type (once
per committed submission), lease-to-submit times, queue depth equal to the items table, and the item's trace
context kept for its task.submitted event."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
from prometheus_client import REGISTRY

from annotary_orchestrator.domain.policy import Policy
from annotary_orchestrator.service_layer import leasing, projects, submitting
from annotary_orchestrator.service_layer.metrics import queue_depth_refresher

RESULT = json.dumps([{"type": "choice", "name": "c", "value": "x"}])


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_submissions_durations_and_queue_depth(pool: asyncpg.Pool, ingest: Any) -> None:
    pid = str(uuid.uuid4())
    async with pool.acquire() as conn:
        await projects.configure_project(conn, pid, Policy(overlap=1, lease_seconds=60), 1, "text:choice")
        await projects.configure_project(conn, pid, Policy(overlap=1, lease_seconds=60), 0, "")  # "" keeps it
        assert await conn.fetchval("SELECT task_type FROM projects WHERE id = $1", uuid.UUID(pid)) == "text:choice"
    items = [await ingest(pid, f"item-{i}") for i in range(3)]
    async with pool.acquire() as conn:
        stored = await conn.fetchval("SELECT trace_context FROM items WHERE item_id = $1", uuid.UUID(items[0]))
        assert isinstance(json.loads(stored), dict)
        for _ in range(2):
            task = await leasing.lease_next_task(conn, pid, "ann-1")
            assert task is not None
            await submitting.submit_task(conn, task.task_id, "ann-1", RESULT, 1000)
        await submitting.submit_task(conn, task.task_id, "ann-1", RESULT, 1000)  # a retry: counted once
    labels = {"project": pid, "task_type": "text:choice"}
    assert value("annotary_annotations_submitted_total", annotator="ann-1", **labels) == 2
    assert value("annotary_task_duration_seconds_count", **labels) == 2
    assert value("annotary_task_duration_seconds_sum", **labels) >= 0

    await queue_depth_refresher(pool)()
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT state, count(*) AS n FROM items WHERE project_id = $1 GROUP BY state", uuid.UUID(pid)
        )
    in_db = {r["state"]: r["n"] for r in rows}
    assert in_db == {"submitted": 2, "unassigned": 1}
    for state, n in in_db.items():
        assert value("annotary_queue_depth", project=pid, state=state) == n
