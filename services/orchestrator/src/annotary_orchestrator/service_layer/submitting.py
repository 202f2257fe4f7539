"""SubmitTask: store a slot's result; the last slot of a round completes the item and emits task.submitted."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from annotary.events.v1 import events_pb2
from annotary.orchestrator.v1 import orchestrator_pb2
from annotary_common import outbox, topics
from annotary_common.grpc_util import InvalidArgument, NotFound
from annotary_common.metrics import ANNOTATIONS_SUBMITTED, TASK_DURATION
from annotary_common.telemetry import continue_item_trace, set_ids
from annotary_orchestrator.domain.results import InvalidResult, parse_result
from annotary_orchestrator.domain.states import ItemState, TaskState, item_state_after_submit
from annotary_orchestrator.service_layer import transitions
from annotary_orchestrator.service_layer.annotators import lock_annotator
from annotary_orchestrator.service_layer.common import (
    PRODUCER,
    LockedItem,
    lock_item,
    parse_uuid,
    require_annotator,
    round_counts,
    set_item_state,
)
from annotary_orchestrator.service_layer.leasing import check_holder
from annotary_orchestrator.service_layer.transitions import TaskRow, lock_task
from annotary_orchestrator.service_layer.views import load_task, timestamp

MAX_LEAD_TIME_MS = 30 * 24 * 3600 * 1000


# The task's project, its task type and the lease's age (for the metrics).
_HEAD = """
SELECT t.project_id, p.task_type, extract(epoch FROM clock_timestamp() - t.leased_at)::float8 AS held_s
FROM tasks t LEFT JOIN projects p ON p.id = t.project_id
"""
# ... taken with the lock of the annotator's row in the task's project (none when the annotator has no row there).
_HEAD_LOCKING_ANNOTATOR = _HEAD + """JOIN annotators a ON a.project_id = t.project_id AND a.annotator_id = $2
WHERE t.task_id = $1
FOR UPDATE OF a
"""


@dataclass(frozen=True)
class SubmitOutcome:
    task: orchestrator_pb2.Task
    item_complete: bool


async def submit_task(conn: asyncpg.Connection, task_id: str, annotator_id: str, result_json: str,
                      lead_time_ms: int) -> SubmitOutcome:
    """Submit the holder's result.

    A lease that expired but was not re-queued yet is still accepted; a re-queued, released or re-leased one is
    "lease lost". Re-submitting a task this annotator already submitted returns it unchanged (the first result stays)
    and emits nothing; its ``item_complete`` then tells whether the item's round is complete. A gold task emits its
    own ``task.submitted`` (is_gold, gold_json, qualification, the one submission) and is complete at once.
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
        # Lock order: annotator, task, item. The task's project, its task type and the lease's age (for the
        # metrics) come with the annotator's lock, in one statement; an annotator with no row in the project yet
        # (never leased there: the submit is refused below) gets one first.
        head = await conn.fetchrow(_HEAD_LOCKING_ANNOTATOR, tid, annotator)
        if head is None:
            head = await conn.fetchrow(_HEAD + "WHERE t.task_id = $1", tid)
            if head is None:
                raise NotFound(f"task_id {tid} not found")
            await lock_annotator(conn, head["project_id"], annotator)
        project_id = head["project_id"]
        set_ids(project_id=project_id, task_id=tid)
        task = await lock_task(conn, tid)
        if task.state is TaskState.SUBMITTED and task.annotator_id == annotator:
            view = await load_task(conn, tid)
            assert view is not None
            if task.gold:
                return SubmitOutcome(task=view, item_complete=True)
            counts = await round_counts(conn, task.item_id, task.round)
            return SubmitOutcome(task=view, item_complete=counts.submitted == counts.slots)
        await check_holder(conn, task, annotator)
        await transitions.submit(conn, task, annotator, regions, lead_time_ms)  # counted for the annotator too
        if task.gold:  # no item transition: the gold item is not locked, annotators submit it in parallel
            await _emit_gold_submitted(conn, task)
            complete = True
        else:
            item = await lock_item(conn, task.item_id)
            assert item is not None, "a task without its item"
            complete = await _settle_item(conn, item, annotator, tid)
        view = await load_task(conn, tid)
        assert view is not None
    record_submission(str(project_id), annotator, head["task_type"] or "unknown", head["held_s"])
    return SubmitOutcome(task=view, item_complete=complete)


def record_submission(project_id: str, annotator: str, task_type: str, held_s: float | None) -> None:
    """A committed submission: the per-annotator counter and the lease-to-submit histogram."""
    ANNOTATIONS_SUBMITTED.labels(project_id, annotator, task_type).inc()
    if held_s is not None and held_s >= 0:
        TASK_DURATION.labels(project_id, task_type).observe(held_s)


async def _settle_item(conn: asyncpg.Connection, item: LockedItem, annotator: str, task_id: uuid.UUID) -> bool:
    """The item after a regular submission; True (and task.submitted staged) when it completed the round.

    The item lock serialises the last submissions of a round: the count below sees every committed one, so exactly
    one transaction finds the round complete and emits task.submitted.
    """
    # The round's slots with their submissions, one read: the counts, and the event's submissions when complete.
    slots = await conn.fetch(
        f"SELECT state, {_SUBMISSION_COLUMNS} FROM tasks WHERE item_id = $1 AND round = $2 AND NOT gold ORDER BY slot",
        item.item_id, item.round,
    )
    submitted = [row for row in slots if row["state"] == "submitted"]
    new_state = item_state_after_submit(item.state, len(submitted), len(slots))
    if new_state is not item.state:
        reason = "all slots submitted" if new_state is ItemState.SUBMITTED else "first submissions in"
        await set_item_state(conn, item, new_state, actor=annotator, reason=reason, task_id=task_id)
    complete = new_state is ItemState.SUBMITTED and item.state is not ItemState.SUBMITTED
    if complete:
        await _emit_task_submitted(conn, item, [_submission(row) for row in submitted])
    return complete


_SUBMISSION_COLUMNS = ("task_id, annotator_id, result_json::text AS result_json, lead_time_ms, submitted_at,"
                       " schema_version, prelabel_model_versions")


def _submission(row: asyncpg.Record) -> events_pb2.Submission:
    sub = events_pb2.Submission(task_id=str(row["task_id"]), annotator_id=row["annotator_id"],
                                result_json=row["result_json"], lead_time_ms=row["lead_time_ms"] or 0,
                                schema_version=row["schema_version"],
                                prelabel_model_versions=list(row["prelabel_model_versions"]))
    sub.submitted_at.CopyFrom(timestamp(row["submitted_at"]))
    return sub


def _snapshot(raw: bytes) -> events_pb2.ItemSnapshot:
    snapshot = events_pb2.ItemSnapshot()
    snapshot.ParseFromString(raw)
    return snapshot


async def _emit_task_submitted(conn: asyncpg.Connection, item: LockedItem,
                               submissions: list[events_pb2.Submission]) -> None:
    payload = events_pb2.TaskSubmitted(item=_snapshot(item.snapshot), submissions=submissions, round=item.round)
    # The event continues the item's trace (from its ingestion), linked to the submit request's own trace.
    with continue_item_trace("task.submitted", item.trace_context, project_id=item.project_id, item_id=item.item_id):
        await outbox.add_event(conn, topics.TASK_SUBMITTED, key=str(item.item_id), payload=payload, producer=PRODUCER)


async def _emit_gold_submitted(conn: asyncpg.Connection, task: TaskRow) -> None:
    """One event per gold submission (a fresh event id each), for qa to score against gold_json."""
    row = await conn.fetchrow(f"SELECT {_SUBMISSION_COLUMNS} FROM tasks WHERE task_id = $1", task.task_id)
    item = await conn.fetchrow("SELECT snapshot, gold_json::text AS gold_json FROM items WHERE item_id = $1",
                               task.item_id)
    assert row is not None and item is not None
    payload = events_pb2.TaskSubmitted(item=_snapshot(bytes(item["snapshot"])), submissions=[_submission(row)],
                                       round=task.round, is_gold=True, gold_json=item["gold_json"] or "[]",
                                       qualification=task.qualification)
    await outbox.add_event(conn, topics.TASK_SUBMITTED, key=str(task.item_id), payload=payload, producer=PRODUCER)
