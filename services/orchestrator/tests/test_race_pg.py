"""Done-when: 50 annotator clients race on 5,000 tasks served by two orchestrator replicas: no double assignment, no
lost task, nobody starves.

Always: the replicas are two independent connection pools on this module's database, each running the service layer
(as two processes would; ~25 s). With ``ANNOTARY_TEST_REAL_REPLICAS=1`` also: two real ``python -m
annotary_orchestrator`` processes (own pools, gRPC ports and reapers) with a Kafka-protocol broker (Tansu) started
here, raced over gRPC (~70 s, most of it the consumer-group joins at start-up; tests/integration/test_scale_out.py
covers the same through the whole stack). Items are ingested with the item.ingested handler straight into the
database. Clients lease 1 or 3 at a time, skip 2% of their tasks and submit the rest, spread over both replicas.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections import Counter
from typing import Any, Protocol

import asyncpg

from annotary.events.v1 import events_pb2
from annotary.orchestrator.v1 import orchestrator_pb2
from annotary_common import topics
from annotary_common.db import create_pool
from annotary_common.events import Event, build_envelope
from annotary_orchestrator.domain.policy import Policy
from annotary_orchestrator.service_layer import events, leasing, projects, submitting

ITEMS, OVERLAP, CLIENTS = 2_500, 2, 50  # 5,000 tasks
REGION = json.dumps([{"type": "span", "label": "WORD", "start": 0, "end": 4}])
T = 30.0


class Replica(Protocol):
    async def lease(self, project_id: str, annotator: str, count: int) -> tuple[list[orchestrator_pb2.Task], str]: ...
    async def skip(self, task_id: str, annotator: str, reason: str) -> None: ...
    async def submit(self, task_id: str, annotator: str, result_json: str) -> None: ...


class PoolReplica:
    """The service layer on a connection pool of its own."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def lease(self, project_id: str, annotator: str, count: int) -> tuple[list[orchestrator_pb2.Task], str]:
        async with self.pool.acquire() as conn:
            outcome = await leasing.lease_next_tasks(conn, project_id, annotator, count)
        return outcome.tasks, outcome.reason

    async def skip(self, task_id: str, annotator: str, reason: str) -> None:
        async with self.pool.acquire() as conn:
            await leasing.skip_task(conn, task_id, annotator, reason)

    async def submit(self, task_id: str, annotator: str, result_json: str) -> None:
        async with self.pool.acquire() as conn:
            await submitting.submit_task(conn, task_id, annotator, result_json, 10)


class GrpcReplica:
    """A replica process, over gRPC."""

    def __init__(self, stub: Any) -> None:
        self.stub = stub

    async def lease(self, project_id: str, annotator: str, count: int) -> tuple[list[orchestrator_pb2.Task], str]:
        reply = await self.stub.LeaseNextTask(orchestrator_pb2.LeaseNextTaskRequest(
            project_id=project_id, annotator_id=annotator, count=count), timeout=T)
        assert reply.found == bool(reply.tasks) and (not reply.found or reply.task == reply.tasks[0])
        return list(reply.tasks), reply.reason

    async def skip(self, task_id: str, annotator: str, reason: str) -> None:
        await self.stub.SkipTask(orchestrator_pb2.SkipTaskRequest(task_id=task_id, annotator_id=annotator,
                                                                  reason=reason), timeout=T)

    async def submit(self, task_id: str, annotator: str, result_json: str) -> None:
        await self.stub.SubmitTask(orchestrator_pb2.SubmitTaskRequest(
            task_id=task_id, annotator_id=annotator, result_json=result_json, lead_time_ms=10), timeout=T)


async def ingest_all(database_url: str, project_id: str) -> None:
    pool = await create_pool(database_url, "orchestrator", max_size=8)
    try:
        async with pool.acquire() as conn:
            await projects.configure_project(conn, project_id, Policy(overlap=OVERLAP, lease_seconds=600))

        async def one(n: int) -> None:
            item_id = str(uuid.uuid4())
            payload = events_pb2.ItemIngested(item=events_pb2.ItemSnapshot(
                item_id=item_id, project_id=project_id, external_id=f"r{n:05d}", modality="text", text=f"item {n}"))
            event = Event(envelope=build_envelope(topics.ITEM_INGESTED, item_id, payload, "ingest"), payload=payload)
            async with pool.acquire() as conn, conn.transaction():
                await events.on_item_ingested(conn, event)

        for start in range(0, ITEMS, 250):
            await asyncio.gather(*(one(n) for n in range(start, min(start + 250, ITEMS))))
    finally:
        await pool.close()


async def annotator(replica: Replica, project_id: str, name: str, count: int, rng: random.Random,
                    leases: list[tuple[str, str]], submitted: list[tuple[str, str]]) -> int:
    """Lease (``count`` at a time), sometimes skip, submit; until the project is empty for this annotator."""
    done = 0
    while True:
        tasks, reason = await replica.lease(project_id, name, count)
        if not tasks:
            assert reason == "empty", reason
            return done
        for task in tasks:
            assert task.annotator_id == name and task.state == "assigned"
            leases.append((task.task_id, name))
        task = tasks[0]
        if rng.random() < 0.02:
            await replica.skip(task.task_id, name, "race skip")
            continue
        await replica.submit(task.task_id, name, REGION)
        submitted.append((task.task_id, name))
        done += 1


async def test_fifty_annotators_two_pool_replicas_five_thousand_tasks(database_url: str) -> None:
    pools = [await create_pool(database_url, "orchestrator", min_size=2, max_size=10) for _ in range(2)]
    try:
        await race(database_url, [PoolReplica(pool) for pool in pools], "pools")
    finally:
        for pool in pools:
            await pool.close()


async def race(database_url: str, replicas: list[Replica], kind: str) -> None:
    project_id = str(uuid.uuid4())
    await ingest_all(database_url, project_id)
    leases: list[tuple[str, str]] = []
    submitted: list[tuple[str, str]] = []
    rng = random.Random(7)
    started = time.monotonic()
    counts = await asyncio.gather(*(
        annotator(replicas[n % 2], project_id, f"racer-{n:02d}", 1 if n % 3 else 3, random.Random(rng.random()),
                  leases, submitted)
        for n in range(CLIENTS)
    ))
    elapsed = time.monotonic() - started

    conn = await asyncpg.connect(database_url, server_settings={"search_path": "orchestrator"})
    try:
        pid = uuid.UUID(project_id)
        # No lost task: every task submitted exactly once, by the annotator it was leased to.
        assert sum(counts) == ITEMS * OVERLAP, f"submitted {sum(counts)} of {ITEMS * OVERLAP}"
        assert len({t for t, _ in submitted}) == ITEMS * OVERLAP
        rows = await conn.fetch("SELECT task_id, state, annotator_id FROM tasks WHERE project_id = $1", pid)
        assert Counter(r["state"] for r in rows) == {"submitted": ITEMS * OVERLAP}
        holder = {str(r["task_id"]): r["annotator_id"] for r in rows}
        assert all(holder[t] == who for t, who in submitted)
        # No double assignment: a task is leased again only after its holder gave it back (a skip), never while
        # held; and it was handed to no more annotators than that.
        in_project = "item_id IN (SELECT item_id FROM items WHERE project_id = $1)"
        skipped = Counter(str(r["task_id"]) for r in await conn.fetch(f"SELECT task_id FROM skips WHERE {in_project}",
                                                                       pid))
        lease_rows = Counter(str(r["task_id"]) for r in await conn.fetch(
            f"SELECT task_id FROM item_history WHERE subject = 'task' AND to_state = 'assigned' AND {in_project}", pid))
        assert all(lease_rows[t] == 1 + skipped[t] for t in holder), "a task was leased while it was held"
        handed_to = Counter(t for t, _ in set(leases))
        assert all(handed_to[t] <= 1 + skipped[t] for t in handed_to)
        # An item's slots went to different annotators; every item completed once, with one task.submitted.
        assert await conn.fetchval(
            "SELECT count(*) FROM (SELECT item_id, annotator_id FROM tasks WHERE project_id = $1"
            " GROUP BY item_id, annotator_id HAVING count(*) > 1) t", pid) == 0
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE topic = 'task.submitted' AND key IN"
                                   " (SELECT item_id::text FROM items WHERE project_id = $1)", pid) == ITEMS
        items = await conn.fetch("SELECT state, count(*) AS n FROM items WHERE project_id = $1 GROUP BY state", pid)
        assert {r["state"]: r["n"] for r in items} == {"submitted": ITEMS}
    finally:
        await conn.close()
    # Fair sharing: nobody starves.
    assert min(counts) >= 0.5 * (ITEMS * OVERLAP / CLIENTS), f"uneven shares: {sorted(counts)}"
    print(f"race: {ITEMS * OVERLAP} tasks, {CLIENTS} annotators, 2 replicas ({kind}) in {elapsed:.1f}s; "
          f"shares {min(counts)}..{max(counts)}; skips {sum(skipped.values())}")
