"""Leases: LeaseNextTask, Heartbeat and SkipTask, plus the holder check Submit shares."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from annotary.orchestrator.v1 import orchestrator_pb2
from annotary_common.grpc_util import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied, ServiceError
from annotary_orchestrator.domain.states import (
    TaskState,
    check_item_transition,
    check_task_transition,
    item_state_after_lease,
    item_state_after_release,
)
from annotary_orchestrator.service_layer.common import (
    Aborted,
    lock_item,
    parse_uuid,
    record_history,
    require_annotator,
    round_counts,
    set_item_state,
)
from annotary_orchestrator.service_layer.projects import require_policy
from annotary_orchestrator.service_layer.views import load_task

log = logging.getLogger(__name__)

MAX_PICK_ATTEMPTS = 5
MAX_REASON_CHARS = 2000

# The annotator's live lease in the project (index tasks_held).
_HELD_SQL = """
SELECT task_id FROM tasks
WHERE project_id = $1 AND annotator_id = $2 AND state = 'assigned' AND lease_expires_at > now()
ORDER BY lease_expires_at DESC
LIMIT 1
"""

# The next slot for this annotator: free, or leased with an expired lease; never an item this annotator already
# holds a slot of in this round, nor one it skipped. Walks tasks_lease_queue in priority then FIFO order.
_PICK_SQL = """
SELECT t.task_id, t.item_id, t.state, t.annotator_id
FROM tasks t
WHERE t.project_id = $1
  AND t.state IN ('unassigned', 'assigned')
  AND (t.state = 'unassigned' OR t.lease_expires_at < now())
  AND NOT EXISTS (SELECT 1 FROM tasks o
                  WHERE o.item_id = t.item_id AND o.round = t.round AND o.annotator_id = $2 AND o.task_id <> t.task_id)
  AND NOT EXISTS (SELECT 1 FROM skips s WHERE s.item_id = t.item_id AND s.annotator_id = $2)
ORDER BY t.priority DESC, t.seq
LIMIT 1
FOR UPDATE OF t SKIP LOCKED
"""


@dataclass(frozen=True)
class LockedTask:
    task_id: uuid.UUID
    item_id: uuid.UUID
    project_id: uuid.UUID
    round: int
    state: TaskState
    annotator_id: str | None


async def lock_task(conn: asyncpg.Connection, task_id: uuid.UUID) -> LockedTask:
    """The task row locked for the transaction; NOT_FOUND when unknown."""
    row = await conn.fetchrow(
        "SELECT task_id, item_id, project_id, round, state, annotator_id FROM tasks WHERE task_id = $1 FOR UPDATE",
        task_id,
    )
    if row is None:
        raise NotFound(f"task_id {task_id} not found")
    return LockedTask(task_id=row["task_id"], item_id=row["item_id"], project_id=row["project_id"], round=row["round"],
                      state=TaskState(row["state"]), annotator_id=row["annotator_id"])


async def check_holder(conn: asyncpg.Connection, task: LockedTask, annotator: str,
                       stranger: type[ServiceError] = PermissionDenied) -> None:
    """Pass when ``annotator`` holds the lease (expired or not, as long as nobody else took it over).

    Otherwise: FAILED_PRECONDITION when the task is already submitted by them or they held it and lost it
    ("lease lost"); ``stranger`` (PERMISSION_DENIED by default) when they never held it.
    """
    if task.annotator_id == annotator:
        if task.state is TaskState.ASSIGNED:
            return
        if task.state is TaskState.SUBMITTED:
            raise FailedPrecondition(f"task_id {task.task_id} is already submitted")
    held_before = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM item_history WHERE task_id = $1 AND actor = $2 AND subject = 'task'"
        " AND to_state = 'assigned')",
        task.task_id, annotator,
    )
    if held_before:
        raise FailedPrecondition(f"lease lost: task_id {task.task_id} is no longer held by annotator_id {annotator!r}")
    raise stranger(f"annotator_id {annotator!r} does not hold task_id {task.task_id}")


async def lease_next_task(conn: asyncpg.Connection, project_id: str, annotator_id: str) -> orchestrator_pb2.Task | None:
    """The annotator's live lease in the project if any, else a newly leased slot; None when nothing is left."""
    pid = parse_uuid(project_id, "project_id")
    annotator = require_annotator(annotator_id)
    async with conn.transaction():
        policy = await require_policy(conn, pid)
        # One lease call at a time per annotator and project, so a double click never leases two tasks.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"annotary-lease:{pid}:{annotator}")
        held = await conn.fetchval(_HELD_SQL, pid, annotator)
        if held is not None:
            return await load_task(conn, held)
        for attempt in range(1, MAX_PICK_ATTEMPTS + 1):
            try:
                async with conn.transaction():  # a savepoint: a lost race undoes only this pick
                    task_id = await _pick_and_assign(conn, pid, annotator, policy.lease_seconds)
            except asyncpg.UniqueViolationError:
                log.info("lease race on one item; picking again", extra={"annotator_id": annotator, "attempt": attempt})
                continue
            return None if task_id is None else await load_task(conn, task_id)
        raise Aborted(f"could not lease a task for annotator_id {annotator!r} in {MAX_PICK_ATTEMPTS} attempts; retry")


async def _pick_and_assign(conn: asyncpg.Connection, project_id: uuid.UUID, annotator: str,
                           lease_seconds: int) -> uuid.UUID | None:
    row = await conn.fetchrow(_PICK_SQL, project_id, annotator)
    if row is None:
        return None
    task_id: uuid.UUID = row["task_id"]
    check_task_transition(row["state"], TaskState.ASSIGNED)
    await conn.execute(
        "UPDATE tasks SET state = 'assigned', annotator_id = $2, lease_expires_at = now() + make_interval(secs => $3),"
        " updated_at = now() WHERE task_id = $1",
        task_id, annotator, float(lease_seconds),
    )
    expired_holder = row["annotator_id"]
    reason = f"lease of {expired_holder!r} expired; re-leased" if expired_holder else "leased"
    await record_history(conn, subject="task", item_id=row["item_id"], task_id=task_id, actor=annotator,
                         from_state=row["state"], to_state=TaskState.ASSIGNED, reason=reason)
    item = await lock_item(conn, row["item_id"])
    assert item is not None, "a task without its item"
    new_state = item_state_after_lease(item.state)
    if new_state is not item.state:
        check_item_transition(item.state, new_state)
        await set_item_state(conn, item, new_state, actor=annotator, reason="first slot leased", task_id=task_id)
    return task_id


async def heartbeat(conn: asyncpg.Connection, task_id: str, annotator_id: str) -> datetime:
    """Extend the holder's lease by the project's lease_seconds; FAILED_PRECONDITION for anyone else."""
    tid = parse_uuid(task_id, "task_id")
    annotator = require_annotator(annotator_id)
    async with conn.transaction():
        task = await lock_task(conn, tid)
        await check_holder(conn, task, annotator, stranger=FailedPrecondition)
        policy = await require_policy(conn, task.project_id)
        expires: datetime = await conn.fetchval(
            "UPDATE tasks SET lease_expires_at = now() + make_interval(secs => $2), updated_at = now()"
            " WHERE task_id = $1 RETURNING lease_expires_at",
            tid, float(policy.lease_seconds),
        )
    return expires


async def skip_task(conn: asyncpg.Connection, task_id: str, annotator_id: str, reason: str) -> None:
    """The holder gives the slot back to the queue and never gets this item again. A retried skip is a no-op."""
    tid = parse_uuid(task_id, "task_id")
    annotator = require_annotator(annotator_id)
    if len(reason) > MAX_REASON_CHARS:
        raise InvalidArgument(f"reason is longer than {MAX_REASON_CHARS} characters")
    async with conn.transaction():
        task = await lock_task(conn, tid)
        already = await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM skips WHERE item_id = $1 AND annotator_id = $2 AND task_id = $3)",
            task.item_id, annotator, tid,
        )
        if already:
            return
        await check_holder(conn, task, annotator)
        check_task_transition(task.state, TaskState.UNASSIGNED)
        await conn.execute(
            "UPDATE tasks SET state = 'unassigned', annotator_id = NULL, lease_expires_at = NULL, updated_at = now()"
            " WHERE task_id = $1",
            tid,
        )
        await conn.execute(
            "INSERT INTO skips (item_id, annotator_id, task_id, round, reason) VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT DO NOTHING",
            task.item_id, annotator, tid, task.round, reason,
        )
        await record_history(conn, subject="task", item_id=task.item_id, task_id=tid, actor=annotator,
                             from_state=task.state, to_state=TaskState.UNASSIGNED,
                             reason=f"skipped: {reason}" if reason else "skipped")
        item = await lock_item(conn, task.item_id)
        assert item is not None, "a task without its item"
        counts = await round_counts(conn, item.item_id, item.round)
        new_state = item_state_after_release(item.state, counts.leased, counts.submitted)
        if new_state is not item.state:
            check_item_transition(item.state, new_state)
            await set_item_state(conn, item, new_state, actor=annotator, reason="last lease skipped", task_id=tid)
