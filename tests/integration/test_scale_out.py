"""Issue 3, done-when 2: two orchestrator replicas (two consumers of item.ingested sharing its
partitions, two gRPC servers on one database) serve 50 annotators racing on 5,000 tasks: no double
assignment, no lost task."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from typing import Any

import asyncpg
import httpx

from annotary.orchestrator.v1 import orchestrator_pb2, orchestrator_pb2_grpc
from annotary_cli.stack import Stack
from annotary_common.grpc_util import open_channel
from tests.integration.client import Api
from tests.integration.test_pipeline import wait_items

SCHEMA = {"modality": "text", "labels": [{"name": "WORD"}], "tools": ["span"]}
ITEMS, OVERLAP, CLIENTS = 2_500, 2, 50  # 5,000 tasks


async def annotate(stub: Any, project_id: str, annotator: str, log: list[tuple[str, str]]) -> int:
    region = json.dumps([{"type": "span", "label": "WORD", "start": 0, "end": 4}])
    done = 0
    while True:
        reply = await stub.LeaseNextTask(
            orchestrator_pb2.LeaseNextTaskRequest(project_id=project_id, annotator_id=annotator), timeout=30
        )
        if not reply.found:
            return done
        task = reply.task
        log.append((task.task_id, annotator))
        await stub.SubmitTask(
            orchestrator_pb2.SubmitTaskRequest(task_id=task.task_id, annotator_id=annotator, result_json=region),
            timeout=30,
        )
        done += 1


async def race(stack: Stack, replicas: list[str], project_id: str) -> tuple[list[int], list[tuple[str, str]]]:
    channels = [open_channel(f"127.0.0.1:{stack.grpc_ports[name]}") for name in replicas]
    stubs = [orchestrator_pb2_grpc.OrchestratorServiceStub(ch) for ch in channels]
    log: list[tuple[str, str]] = []
    try:
        counts = await asyncio.gather(
            *(annotate(stubs[i % len(stubs)], project_id, f"racer-{i}", log) for i in range(CLIENTS))
        )
    finally:
        await asyncio.gather(*(ch.close(None) for ch in channels))
    return list(counts), log


def test_two_replicas_fifty_annotators_five_thousand_tasks(stack: Stack, make_user: Any) -> None:
    replica = stack.add_replica("orchestrator")
    stack.wait_ready([replica], timeout=60)
    manager: Api = make_user("manager")
    project = manager.create_project(
        f"scale-{uuid.uuid4().hex[:6]}", SCHEMA, {"overlap": OVERLAP, "agreement_threshold": 1.0}
    )
    pid = project["id"]
    items = [{"external_id": f"s{i:05d}", "text": f"Item {i} racing through two replicas"} for i in range(ITEMS)]
    reply = manager.post(f"/projects/{pid}/items", json=items, timeout=300)
    assert reply.status_code == 201, reply.text
    assert sum(wait_items(manager, pid, ITEMS, timeout=180).values()) == ITEMS

    counts, log = asyncio.run(race(stack, ["orchestrator", replica], pid))
    assert sum(counts) == ITEMS * OVERLAP, "a task was lost"
    leased = Counter(task_id for task_id, _ in log)
    assert max(leased.values()) == 1, "a task was leased twice"
    assert min(c for c in counts) > 0, f"an annotator starved: {counts}"

    async def check() -> dict[str, Any]:
        conn = await asyncpg.connect(stack.config.database_url)
        try:
            return {
                "tasks": dict(
                    await conn.fetch(
                        "SELECT state, count(*) FROM orchestrator.tasks WHERE project_id = $1 GROUP BY state",
                        uuid.UUID(pid),
                    )
                ),
                "same_annotator_twice": await conn.fetchval(
                    """SELECT count(*) FROM (SELECT item_id, annotator_id FROM orchestrator.tasks
                       WHERE project_id = $1 GROUP BY item_id, annotator_id HAVING count(*) > 1) t""",
                    uuid.UUID(pid),
                ),
                "holder_mismatch": await conn.fetchval(
                    "SELECT count(*) FROM orchestrator.tasks WHERE project_id = $1 AND task_id::text = ANY($2)"
                    " AND annotator_id <> ($3::jsonb ->> task_id::text)",
                    uuid.UUID(pid),
                    [t for t, _ in log],
                    json.dumps(dict(log)),
                ),
            }
        finally:
            await conn.close()

    found = asyncio.run(check())
    assert found["tasks"] == {"submitted": ITEMS * OVERLAP}
    assert found["same_annotator_twice"] == 0
    assert found["holder_mismatch"] == 0
    # Both replicas consumed item.ingested: the consumer group shares the topic's partitions.
    applied = {name: ingested_applied(stack, name) for name in ("orchestrator", replica)}
    assert all(n > 0 for n in applied.values()), applied
    assert sum(applied.values()) >= ITEMS


def ingested_applied(stack: Stack, name: str) -> float:
    text = httpx.get(f"http://127.0.0.1:{stack.http_ports[name]}/metrics", timeout=5).text
    total = 0.0
    for line in text.splitlines():
        if (
            line.startswith("annotary_events_total{")
            and 'topic="item.ingested"' in line
            and 'outcome="applied"' in line
        ):
            total += float(line.rsplit(" ", 1)[1])
    return total
