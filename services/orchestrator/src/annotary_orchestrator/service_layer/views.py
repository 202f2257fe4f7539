"""Read models: a task as the gRPC contract shows it (with its item snapshot and predictions), an item's history."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg
from google.protobuf.timestamp_pb2 import Timestamp

from annotary.events.v1 import events_pb2
from annotary.orchestrator.v1 import orchestrator_pb2
from annotary_common.grpc_util import NotFound
from annotary_orchestrator.domain.states import TaskState, gold_item_state_view
from annotary_orchestrator.service_layer.common import parse_uuid


def timestamp(value: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


# The task, its item and the item's predictions (by model version) in one round trip.
_LOAD_TASK = """
SELECT t.task_id, t.project_id, t.item_id, t.state, t.annotator_id, t.lease_expires_at,
       t.result_json::text AS result_json, t.round, t.feedback, t.gold, t.qualification,
       i.state AS item_state, i.snapshot, p.versions AS p_versions, p.scores AS p_scores, p.results AS p_results
FROM tasks t
JOIN items i ON i.item_id = t.item_id
CROSS JOIN LATERAL (
    SELECT coalesce(array_agg(model_version ORDER BY model_version), '{}') AS versions,
           coalesce(array_agg(score ORDER BY model_version), '{}') AS scores,
           coalesce(array_agg(result_json::text ORDER BY model_version), '{}') AS results
    FROM predictions WHERE item_id = t.item_id
) p
WHERE t.task_id = $1
"""


async def load_task(conn: asyncpg.Connection, task_id: uuid.UUID) -> orchestrator_pb2.Task | None:
    """The task with its item snapshot, the item's state and all its predictions; None when unknown."""
    row = await conn.fetchrow(_LOAD_TASK, task_id)
    if row is None:
        return None
    # A gold task shows the item state a regular item with overlap 1 would have: the API must not give gold away.
    item_state = gold_item_state_view(TaskState(row["state"])).value if row["gold"] else row["item_state"]
    task = orchestrator_pb2.Task(
        task_id=str(row["task_id"]),
        project_id=str(row["project_id"]),
        state=row["state"],
        annotator_id=row["annotator_id"] or "",
        result_json=row["result_json"] or "",
        item_state=item_state,
        round=row["round"],
        feedback=row["feedback"],
        is_gold=row["gold"],
        qualification=row["qualification"],
    )
    if row["lease_expires_at"] is not None:
        task.lease_expires_at.CopyFrom(timestamp(row["lease_expires_at"]))
    task.item.ParseFromString(bytes(row["snapshot"]))
    task.predictions.extend(events_pb2.Prediction(model_version=v, score=s, result_json=r) for v, s, r in zip(
        row["p_versions"], row["p_scores"], row["p_results"], strict=True))
    return task


async def get_task(conn: asyncpg.Connection, task_id: str) -> orchestrator_pb2.Task:
    """GetTask: NOT_FOUND when unknown."""
    tid = parse_uuid(task_id, "task_id")
    task = await load_task(conn, tid)
    if task is None:
        raise NotFound(f"task_id {tid} not found")
    return task


async def get_item_history(conn: asyncpg.Connection, item_id: str) -> list[orchestrator_pb2.HistoryEntry]:
    """GetItemHistory: every transition of the item and of its tasks, oldest first; NOT_FOUND when unknown."""
    iid = parse_uuid(item_id, "item_id")
    if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM items WHERE item_id = $1)", iid):
        raise NotFound(f"item_id {iid} not found")
    rows = await conn.fetch(
        "SELECT task_id, actor, from_state, to_state, reason, at FROM item_history WHERE item_id = $1 ORDER BY id", iid
    )
    entries = []
    for row in rows:
        entry = orchestrator_pb2.HistoryEntry(item_id=str(iid), task_id=str(row["task_id"] or ""), actor=row["actor"],
                                              from_state=row["from_state"] or "", to_state=row["to_state"],
                                              reason=row["reason"])
        entry.at.CopyFrom(timestamp(row["at"]))
        entries.append(entry)
    return entries
