"""The gRPC servicer in-process on the real Postgres: request fields in, status codes and responses out."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import grpc
import pytest
import pytest_asyncio

from annotary.orchestrator.v1 import orchestrator_pb2, orchestrator_pb2_grpc
from annotary_orchestrator.entrypoints.grpc_api import OrchestratorServicer

BOX = json.dumps([{"type": "bbox", "label": "cat", "x": 1, "y": 2, "w": 3, "h": 4}])
T = 5.0


@pytest_asyncio.fixture
async def stub(pool: asyncpg.Pool) -> AsyncIterator[Any]:
    server = grpc.aio.server()
    orchestrator_pb2_grpc.add_OrchestratorServiceServicer_to_server(OrchestratorServicer(pool), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield orchestrator_pb2_grpc.OrchestratorServiceStub(channel)
    finally:
        await channel.close(None)
        await server.stop(None)


async def configure(stub: Any, **policy: Any) -> str:
    pid = str(uuid.uuid4())
    fields = {"overlap": 1, "lease_seconds": 60, **policy}
    await stub.ConfigureProject(orchestrator_pb2.ConfigureProjectRequest(
        project_id=pid, policy=orchestrator_pb2.ProjectPolicy(**fields), schema_version=2), timeout=T)
    return pid


async def code_of(call: Any) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    return info.value.code(), info.value.details() or ""


async def test_configure_project_validates_each_new_field(stub: Any, pool: asyncpg.Pool) -> None:
    pid = str(uuid.uuid4())
    for field, value in [("max_active_per_annotator", -1), ("max_active_per_annotator", 5000),
                         ("max_items_per_annotator", -2), ("qualification_items", -1),
                         ("qualification_min_accuracy", 2.0), ("overlap", 0)]:
        policy = orchestrator_pb2.ProjectPolicy(**{"overlap": 1, "lease_seconds": 60, field: value})
        code, details = await code_of(stub.ConfigureProject(
            orchestrator_pb2.ConfigureProjectRequest(project_id=pid, policy=policy), timeout=T))
        assert code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith(f"policy.{field}: "), details
    code, details = await code_of(stub.ConfigureProject(orchestrator_pb2.ConfigureProjectRequest(
        project_id=pid, policy=orchestrator_pb2.ProjectPolicy(overlap=1, lease_seconds=60), schema_version=-1),
        timeout=T))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "schema_version" in details
    pid = await configure(stub, max_items_per_annotator=7, qualification_items=3, qualification_min_accuracy=0.9)
    row = await pool.fetchrow("SELECT policy, schema_version FROM projects WHERE id = $1", uuid.UUID(pid))
    policy = json.loads(row["policy"])
    assert row["schema_version"] == 2
    assert (policy["max_active_per_annotator"], policy["max_items_per_annotator"], policy["qualification_items"],
            policy["qualification_min_accuracy"]) == (10, 7, 3, 0.9)


async def test_lease_k_priority_history_stats(stub: Any, ingest: Any) -> None:
    pid = await configure(stub, gold_ratio=0.0)
    ids = [await ingest(pid, f"g{n}") for n in range(3)]
    await ingest(pid, "gold", gold=BOX)
    got = await stub.SetItemPriority(orchestrator_pb2.SetItemPriorityRequest(project_id=pid, item_ids=[ids[2]],
                                                                             priority=9), timeout=T)
    assert got.updated == 1
    reply = await stub.LeaseNextTask(orchestrator_pb2.LeaseNextTaskRequest(project_id=pid, annotator_id="a",
                                                                           count=2), timeout=T)
    assert reply.found and reply.reason == "" and reply.task == reply.tasks[0]
    assert [t.item.external_id for t in reply.tasks] == ["g2", "g0"]
    assert all(t.round == 1 and not t.is_gold for t in reply.tasks)
    done = await stub.SubmitTask(orchestrator_pb2.SubmitTaskRequest(
        task_id=reply.task.task_id, annotator_id="a", result_json=BOX, lead_time_ms=5), timeout=T)
    assert done.item_complete
    history = await stub.GetItemHistory(orchestrator_pb2.GetItemHistoryRequest(item_id=ids[2]), timeout=T)
    assert [(e.from_state, e.to_state) for e in history.entries] == [
        ("", "unassigned"), ("unassigned", "assigned"), ("unassigned", "assigned"), ("assigned", "submitted"),
        ("assigned", "submitted")]
    code, _ = await code_of(stub.GetItemHistory(orchestrator_pb2.GetItemHistoryRequest(item_id=str(uuid.uuid4())),
                                                timeout=T))
    assert code == grpc.StatusCode.NOT_FOUND
    code, details = await code_of(stub.SetItemPriority(orchestrator_pb2.SetItemPriorityRequest(
        project_id=pid, item_ids=["nope"], priority=1), timeout=T))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith("item_ids[0]")
    stats = await stub.GetProjectStats(orchestrator_pb2.GetProjectStatsRequest(project_id=pid), timeout=T)
    assert stats.gold_items == 1 and dict(stats.item_states) == {"submitted": 1, "assigned": 1, "unassigned": 1}
    empty = await configure(stub)
    reply = await stub.LeaseNextTask(orchestrator_pb2.LeaseNextTaskRequest(project_id=empty, annotator_id="a"),
                                     timeout=T)
    assert not reply.found and reply.reason == "empty" and len(reply.tasks) == 0
    code, _ = await code_of(stub.LeaseNextTask(orchestrator_pb2.LeaseNextTaskRequest(
        project_id=empty, annotator_id="a", count=-1), timeout=T))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
