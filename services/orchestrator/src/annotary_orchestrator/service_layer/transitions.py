"""Task transitions: the only writers of a task's state. Each checks the move against the state machine
(``domain.states``: IllegalTransition otherwise) and writes the history row (who, when, from, to, why)."""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from annotary_common.grpc_util import NotFound
from annotary_orchestrator.domain.states import (
    TaskState,
    check_task_transition,
    item_state_after_release,
)
from annotary_orchestrator.service_layer.common import (
    HISTORY_INSERT,
    change_with_history,
    lock_items,
    round_counts,
    set_item_state,
)

TASK_COLUMNS = "task_id, item_id, project_id, round, state, annotator_id, gold, qualification, lease_expires_at"


@dataclass(frozen=True)
class TaskRow:
    task_id: uuid.UUID
    item_id: uuid.UUID
    project_id: uuid.UUID
    round: int
    state: TaskState
    annotator_id: str | None
    gold: bool = False
    qualification: bool = False

    @classmethod
    def from_record(cls, row: asyncpg.Record) -> TaskRow:
        return cls(task_id=row["task_id"], item_id=row["item_id"], project_id=row["project_id"], round=row["round"],
                   state=TaskState(row["state"]), annotator_id=row["annotator_id"], gold=row["gold"],
                   qualification=row["qualification"])


async def lock_task(conn: asyncpg.Connection, task_id: uuid.UUID) -> TaskRow:
    """The task row locked for the transaction; NOT_FOUND when unknown."""
    row = await conn.fetchrow(f"SELECT {TASK_COLUMNS} FROM tasks WHERE task_id = $1 FOR UPDATE", task_id)
    if row is None:
        raise NotFound(f"task_id {task_id} not found")
    return TaskRow.from_record(row)


async def _write(conn: asyncpg.Connection, task: TaskRow, to_state: TaskState, actor: str, reason: str, change: str,
                 *args: Any, also: str = "") -> None:
    """The task's UPDATE (``args`` as $1..$n, the task id first) with its history row (and ``also``), one
    statement."""
    check_task_transition(task.state, to_state)
    await change_with_history(conn, change, task.task_id, *args, subject="task", item_id=task.item_id,
                              task_id=task.task_id, actor=actor, from_state=task.state, to_state=to_state,
                              reason=reason, also=also)


# A lease: $2 the annotator, $3 the lease's seconds, $4 the schema version, $5 whether it is a qualification task.
_ASSIGN_SET = (
    "state = 'assigned', annotator_id = $2, lease_expires_at = now() + make_interval(secs => $3::float8),"
    " leased_at = now(), schema_version = $4, qualification = $5,"
    " prelabel_model_versions = ARRAY(SELECT model_version FROM predictions p WHERE p.item_id = tasks.item_id"
    "                                 ORDER BY model_version),"
    " updated_at = now()"
)


async def assign(conn: asyncpg.Connection, task: TaskRow, annotator: str, *, lease_seconds: int, schema_version: int,
                 qualification: bool = False, reason: str = "leased") -> None:
    """``unassigned -> assigned``: a lease for ``annotator``, recording the schema version and the model versions of
    the item's predictions at this moment (they travel with the submission)."""
    await _write(conn, task, TaskState.ASSIGNED, annotator, reason,
                 f"UPDATE tasks SET {_ASSIGN_SET} WHERE task_id = $1",
                 annotator, float(lease_seconds), schema_version, qualification)


@functools.cache
def _assign_picked_sql(pick: str) -> str:
    return f"""
WITH picked AS ({pick}),
assigned AS (UPDATE tasks SET {_ASSIGN_SET} FROM picked WHERE tasks.task_id = picked.task_id),
history AS ({HISTORY_INSERT} SELECT 'task', item_id, task_id, $2, state::text, 'assigned', 'leased' FROM picked),
served AS (UPDATE annotators SET served_total = served_total + 1, updated_at = now()
           WHERE project_id = $1 AND annotator_id = $2 AND EXISTS (SELECT 1 FROM picked))
SELECT * FROM picked
"""


async def assign_picked(conn: asyncpg.Connection, pick: str, project_id: uuid.UUID, annotator: str, *,
                        lease_seconds: int, schema_version: int) -> TaskRow | None:
    """``unassigned -> assigned`` for the task ``pick`` finds (a SELECT of ``TASK_COLUMNS`` of unassigned tasks with
    ``FOR UPDATE``, $1 the project, $2 the annotator), as :func:`assign` writes it (not a qualification task), with
    its history row and the annotator's ``served_total`` counted: one statement. None when ``pick`` finds none. The
    move is checked as every transition is; a refused one raises, and the caller's transaction undoes it."""
    row = await conn.fetchrow(_assign_picked_sql(pick), project_id, annotator, float(lease_seconds), schema_version,
                              False)
    if row is None:
        return None
    task = TaskRow.from_record(row)
    check_task_transition(task.state, TaskState.ASSIGNED)
    return task


async def release(conn: asyncpg.Connection, task: TaskRow, *, actor: str, reason: str) -> None:
    """``assigned -> unassigned``: the slot goes back to the queue (skip, expiry, pause)."""
    await _write(
        conn, task, TaskState.UNASSIGNED, actor, reason,
        "UPDATE tasks SET state = 'unassigned', annotator_id = NULL, lease_expires_at = NULL, leased_at = NULL,"
        " qualification = false, updated_at = now() WHERE task_id = $1")


async def submit(conn: asyncpg.Connection, task: TaskRow, annotator: str, regions: list[Any],
                 lead_time_ms: int) -> None:
    """``assigned -> submitted``: the holder's result, counted in the annotator's ``submitted`` (or
    ``qualification_submitted``) in the same statement (the caller holds the annotator's row)."""
    column = "qualification_submitted" if task.qualification else "submitted"
    await _write(
        conn, task, TaskState.SUBMITTED, annotator, "submitted",
        "UPDATE tasks SET state = 'submitted', result_json = $2::jsonb, lead_time_ms = $3, submitted_at = now(),"
        " lease_expires_at = NULL, updated_at = now() WHERE task_id = $1",
        json.dumps(regions), lead_time_ms, task.project_id, annotator,
        also=f"UPDATE annotators SET {column} = {column} + 1, updated_at = now()"
             " WHERE project_id = $4 AND annotator_id = $5")


async def transition_task(conn: asyncpg.Connection, task: TaskRow, to_state: TaskState | str, *, actor: str,
                          reason: str = "", lease_seconds: int = 60, schema_version: int = 1) -> None:
    """Any task transition by its target (checked before anything is written); the operations above do the work."""
    target = check_task_transition(task.state, to_state)
    if target is TaskState.ASSIGNED:
        await assign(conn, task, actor, lease_seconds=lease_seconds, schema_version=schema_version,
                     reason=reason or "leased")
    elif target is TaskState.UNASSIGNED:
        await release(conn, task, actor=actor, reason=reason or "released")
    else:
        await submit(conn, task, actor, [], 0)


async def release_tasks(conn: asyncpg.Connection, tasks: Sequence[TaskRow], *, actor: str,
                        reason: Callable[[TaskRow], str]) -> None:
    """Give locked leases back to the queue, then settle their items (locked in id order): an ``assigned`` item with
    no lease and no submission left in its round is ``unassigned`` again. Gold tasks have no item transition."""
    for task in tasks:
        await release(conn, task, actor=actor, reason=reason(task))
    by_item = {t.item_id: t for t in tasks if not t.gold}
    for item in await lock_items(conn, by_item):
        counts = await round_counts(conn, item.item_id, item.round)
        new_state = item_state_after_release(item.state, counts.leased, counts.submitted)
        if new_state is not item.state:
            task = by_item[item.item_id]
            await set_item_state(conn, item, new_state, actor=actor, task_id=task.task_id,
                                 reason=f"no lease left ({reason(task)})")
