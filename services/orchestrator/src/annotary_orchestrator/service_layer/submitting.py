"""SubmitTask: store a slot's result; the last slot of a round completes the item and emits task.submitted."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import asyncpg

from annotary.events.v1 import events_pb2
from annotary.orchestrator.v1 import orchestrator_pb2
from annotary_common import outbox, topics
from annotary_common.grpc_util import InvalidArgument
from annotary_orchestrator.domain.results import InvalidResult, parse_result
from annotary_orchestrator.domain.states import (
    ItemState,
    TaskState,
    check_item_transition,
    check_task_transition,
    item_state_after_submit,
)
from annotary_orchestrator.service_layer.common import (
    PRODUCER,
    LockedItem,
    lock_item,
    parse_uuid,
    record_history,
    require_annotator,
    round_counts,
    set_item_state,
)
from annotary_orchestrator.service_layer.leasing import check_holder, lock_task
from annotary_orchestrator.service_layer.views import load_task, timestamp

MAX_LEAD_TIME_MS = 30 * 24 * 3600 * 1000


@dataclass(frozen=True)
class SubmitOutcome:
    task: orchestrator_pb2.Task
    item_complete: bool


async def submit_task(conn: asyncpg.Connection, task_id: str, annotator_id: str, result_json: str,
                      lead_time_ms: int) -> SubmitOutcome:
    """Submit the holder's result.

    A lease that expired but nobody took over is still accepted; a re-leased one is "lease lost". Re-submitting a
    task this annotator already submitted returns it unchanged (the first result stays) and emits nothing; its
    ``item_complete`` then tells whether the item's round is complete.
    """
    tid = parse_uuid(task_id, "task_id")
    annotator = require_annotator(annotator_id)
    try:
        regions = parse_result(result_json, "result_json")
    except InvalidResult as exc:
        raise InvalidArgument(str(exc)) from None
    if not 0 <= lead_time_ms <= MAX_LEAD_TIME_MS:
        raise InvalidArgument(f"lead_time_ms must be between 0 and {MAX_LEAD_TIME_MS}, got {lead_time_ms}")
    async with conn.transaction():
        task = await lock_task(conn, tid)
        if task.state is TaskState.SUBMITTED and task.annotator_id == annotator:
            counts = await round_counts(conn, task.item_id, task.round)
            view = await load_task(conn, tid)
            assert view is not None
            return SubmitOutcome(task=view, item_complete=counts.submitted == counts.slots)
        await check_holder(conn, task, annotator)
        check_task_transition(task.state, TaskState.SUBMITTED)
        await conn.execute(
            "UPDATE tasks SET state = 'submitted', result_json = $2::jsonb, lead_time_ms = $3, submitted_at = now(),"
            " lease_expires_at = NULL, updated_at = now() WHERE task_id = $1",
            tid, json.dumps(regions), lead_time_ms,
        )
        await record_history(conn, subject="task", item_id=task.item_id, task_id=tid, actor=annotator,
                             from_state=task.state, to_state=TaskState.SUBMITTED, reason="submitted")
        # The item lock serialises the last submissions of a round: the count below sees every committed one,
        # so exactly one transaction finds the round complete and emits task.submitted.
        item = await lock_item(conn, task.item_id)
        assert item is not None, "a task without its item"
        counts = await round_counts(conn, item.item_id, item.round)
        new_state = item_state_after_submit(item.state, counts.submitted, counts.slots)
        if new_state is not item.state:
            check_item_transition(item.state, new_state)
            reason = "all slots submitted" if new_state is ItemState.SUBMITTED else "first submissions in"
            await set_item_state(conn, item, new_state, actor=annotator, reason=reason, task_id=tid)
        complete = new_state is ItemState.SUBMITTED and item.state is not ItemState.SUBMITTED
        if complete:
            await _emit_task_submitted(conn, item)
        view = await load_task(conn, tid)
        assert view is not None
    return SubmitOutcome(task=view, item_complete=complete)


async def submissions_of(conn: asyncpg.Connection, item_id: uuid.UUID, round_: int) -> list[events_pb2.Submission]:
    rows = await conn.fetch(
        "SELECT task_id, annotator_id, result_json::text AS result_json, lead_time_ms, submitted_at FROM tasks"
        " WHERE item_id = $1 AND round = $2 AND state = 'submitted' ORDER BY slot",
        item_id, round_,
    )
    out = []
    for row in rows:
        sub = events_pb2.Submission(task_id=str(row["task_id"]), annotator_id=row["annotator_id"],
                                    result_json=row["result_json"], lead_time_ms=row["lead_time_ms"] or 0)
        sub.submitted_at.CopyFrom(timestamp(row["submitted_at"]))
        out.append(sub)
    return out


async def _emit_task_submitted(conn: asyncpg.Connection, item: LockedItem) -> None:
    snapshot = events_pb2.ItemSnapshot()
    snapshot.ParseFromString(item.snapshot)
    payload = events_pb2.TaskSubmitted(item=snapshot, submissions=await submissions_of(conn, item.item_id, item.round),
                                       round=item.round)
    await outbox.add_event(conn, topics.TASK_SUBMITTED, key=str(item.item_id), payload=payload, producer=PRODUCER)
