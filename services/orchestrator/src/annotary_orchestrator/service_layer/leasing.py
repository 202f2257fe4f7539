"""Leases: LeaseNextTask (K at a time, gold injection, qualification, pause and caps), Heartbeat and SkipTask, plus
the holder check Submit shares.

A lease call first re-queues the project's expired leases (``reaper.requeue_expired``), then, in one transaction
that holds the annotator's row: the pause and qualification checks, the annotator's live leases (oldest first), and
new ones up to ``count`` taken from the head of the queue index with ``FOR UPDATE SKIP LOCKED`` (see
``domain.assignment`` for fair sharing).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from annotary.orchestrator.v1 import orchestrator_pb2
from annotary_common.grpc_util import FailedPrecondition, InvalidArgument, PermissionDenied, ServiceError
from annotary_orchestrator.domain.assignment import (
    MAX_COUNT,
    Phase,
    cap_reached,
    gold_due,
    new_leases_allowed,
    phase,
    wanted,
)
from annotary_orchestrator.domain.states import TaskState, item_state_after_lease
from annotary_orchestrator.service_layer import transitions
from annotary_orchestrator.service_layer.annotators import count_served, lock_annotator
from annotary_orchestrator.service_layer.common import (
    Aborted,
    lock_items,
    parse_uuid,
    require_annotator,
    set_item_state,
)
from annotary_orchestrator.service_layer.projects import Project, not_configured, policy_of, require_policy
from annotary_orchestrator.service_layer.reaper import EXPIRED, requeue_expired
from annotary_orchestrator.service_layer.transitions import TASK_COLUMNS, TaskRow, lock_task, release_tasks
from annotary_orchestrator.service_layer.views import load_task

log = logging.getLogger(__name__)

MAX_LEASE_ATTEMPTS = 5
MAX_REASON_CHARS = 2000
SWEEP_LIMIT = 100  # expired leases a lease call re-queues in its project before picking

REASON_EMPTY = "empty"
REASON_CAP = "cap reached"

# The annotator's live leases in the project, oldest first (index tasks_held).
_HELD_SQL = """
SELECT task_id, qualification FROM tasks
WHERE project_id = $1 AND annotator_id = $2 AND state = 'assigned' AND lease_expires_at > now()
ORDER BY leased_at, seq
"""

# The next free regular slot for this annotator: never one of an item this annotator already has a slot of in this
# round, nor one it skipped. Walks the partial index tasks_queue (priority DESC, score DESC, seq) from its head; the
# anti-joins probe tasks_one_slot_per_annotator and skips' primary key; SKIP LOCKED steps over slots that concurrent
# lease calls are taking, so racing annotators never wait on each other.
PICK_SQL = f"""
SELECT {TASK_COLUMNS} FROM tasks t
WHERE t.project_id = $1 AND t.state = 'unassigned' AND NOT t.gold
  AND NOT EXISTS (SELECT 1 FROM tasks o
                  WHERE o.item_id = t.item_id AND o.round = t.round AND o.annotator_id = $2)
  AND NOT EXISTS (SELECT 1 FROM skips s WHERE s.item_id = t.item_id AND s.annotator_id = $2)
ORDER BY t.priority DESC, t.score DESC, t.seq
LIMIT 1
FOR UPDATE OF t SKIP LOCKED
"""

# A gold item this annotator never had (nor skipped), FIFO. Gold items have no slots to race on: each annotator gets
# a task of its own, so nothing is locked here.
_GOLD_PICK_SQL = """
SELECT i.item_id FROM items i
WHERE i.project_id = $1 AND i.state = 'gold'
  AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.item_id = i.item_id AND t.round = 1 AND t.annotator_id = $2)
  AND NOT EXISTS (SELECT 1 FROM skips s WHERE s.item_id = i.item_id AND s.annotator_id = $2)
ORDER BY i.seq
LIMIT 1
"""


# The project's policy and whether any lease of it has expired (then swept before picking), in one round trip.
_PROJECT_SQL = f"""
SELECT policy::text AS policy, schema_version,
       EXISTS (SELECT 1 FROM tasks WHERE {EXPIRED} AND project_id = $1) AS expired
FROM projects WHERE id = $1
"""


@dataclass(frozen=True)
class LeaseOutcome:
    tasks: list[orchestrator_pb2.Task]
    reason: str  # why nothing was found ("" when tasks is not empty)

    @property
    def found(self) -> bool:
        return bool(self.tasks)


async def check_holder(conn: asyncpg.Connection, task: TaskRow, annotator: str,
                       stranger: type[ServiceError] = PermissionDenied) -> None:
    """Pass when ``annotator`` holds the lease (also an expired one that was not re-queued yet).

    Otherwise: FAILED_PRECONDITION when the task is already submitted by them or they held it and lost it
    ("lease lost": expired and re-queued, released by a pause, or skipped); ``stranger`` (PERMISSION_DENIED by
    default) when they never held it.
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
    """One task (``count`` = 1): the annotator's oldest live lease, else a new one; None when nothing is left."""
    outcome = await lease_next_tasks(conn, project_id, annotator_id, 1)
    return outcome.tasks[0] if outcome.tasks else None


async def lease_next_tasks(conn: asyncpg.Connection, project_id: str, annotator_id: str, count: int) -> LeaseOutcome:
    """The annotator's live leases in the project, oldest first, topped up with new ones to ``count`` (0 means 1;
    capped by max_active_per_annotator). Nothing found: reason "paused: <why>", "qualification failed",
    "qualification pending", "cap reached" or "empty"."""
    pid = parse_uuid(project_id, "project_id")
    annotator = require_annotator(annotator_id)
    if not 0 <= count <= MAX_COUNT:
        raise InvalidArgument(f"count must be between 0 (one) and {MAX_COUNT}, got {count}")
    row = await conn.fetchrow(_PROJECT_SQL, pid)
    if row is None:
        raise not_configured(pid)
    project = Project(project_id=pid, policy=policy_of(row["policy"]), schema_version=row["schema_version"])
    if row["expired"]:  # the usual case is none: the sweep costs nothing more than the probe in this statement
        await requeue_expired(conn, project_id=pid, limit=SWEEP_LIMIT, probe=False)
    for attempt in range(1, MAX_LEASE_ATTEMPTS + 1):
        try:
            async with conn.transaction():
                return await _lease(conn, project, annotator, count)
        except asyncpg.UniqueViolationError:  # defensive: the annotator's row lock serialises its own calls
            log.info("lease race on one item; leasing again", extra={"annotator_id": annotator, "attempt": attempt})
    raise Aborted(f"could not lease a task for annotator_id {annotator!r} in {MAX_LEASE_ATTEMPTS} attempts; retry")


async def _lease(conn: asyncpg.Connection, project: Project, annotator: str, count: int) -> LeaseOutcome:
    pid, policy = project.project_id, project.policy
    standing = await lock_annotator(conn, pid, annotator)
    if standing.paused:
        return LeaseOutcome([], f"paused: {standing.pause_reason or 'no reason given'}")
    held = await conn.fetch(_HELD_SQL, pid, annotator)
    held_qualification = sum(1 for r in held if r["qualification"])
    phase_ = phase(policy, standing, held_qualification)
    if phase_ is Phase.FAILED:
        return LeaseOutcome([], Phase.FAILED.value)
    want = wanted(count, policy)
    task_ids: list[uuid.UUID] = [r["task_id"] for r in held[:want]]
    allowed = new_leases_allowed(policy, standing, want=want, held=len(held), held_qualification=held_qualification,
                                 phase_=phase_)
    picked: list[TaskRow] = []
    served, gold_served = standing.served_total, standing.gold_served
    for _ in range(allowed):
        task: TaskRow | None
        if phase_ is Phase.QUALIFYING:
            task = await _lease_gold(conn, project, annotator, qualification=True)
        else:
            task = None
            if gold_due(policy.gold_ratio, gold_served, served):
                task = await _lease_gold(conn, project, annotator, qualification=False)
            if task is None:
                task = await _lease_regular(conn, project, annotator)
            if task is not None:
                served += 1
                gold_served += task.gold
        if task is None:
            break
        picked.append(task)
    # A regular lease's own statement counted it in served_total; the gold ones (not qualification) are left.
    new_gold = gold_served - standing.gold_served
    await count_served(conn, pid, annotator, served=new_gold, gold=new_gold)
    # Items after all slots, in id order (the lock order of every transaction that locks several items).
    by_item = {t.item_id: t for t in picked if not t.gold}
    for item in await lock_items(conn, by_item):
        new_state = item_state_after_lease(item.state)
        if new_state is not item.state:
            await set_item_state(conn, item, new_state, actor=annotator, reason="first slot leased",
                                 task_id=by_item[item.item_id].task_id)
    task_ids.extend(t.task_id for t in picked)
    if not task_ids:
        held_regular = len(held) - held_qualification
        if phase_ is Phase.PENDING:
            reason = Phase.PENDING.value
        elif phase_ is Phase.REGULAR and cap_reached(policy, standing, held_regular):
            reason = REASON_CAP
        else:
            reason = REASON_EMPTY
        return LeaseOutcome([], reason)
    views = []
    for task_id in task_ids:
        view = await load_task(conn, task_id)
        assert view is not None
        views.append(view)
    return LeaseOutcome(views, "")


async def _lease_regular(conn: asyncpg.Connection, project: Project, annotator: str) -> TaskRow | None:
    """The head of the queue leased to the annotator (and counted in its served_total), in one statement."""
    return await transitions.assign_picked(conn, PICK_SQL, project.project_id, annotator,
                                           lease_seconds=project.policy.lease_seconds,
                                           schema_version=project.schema_version)


async def _lease_gold(conn: asyncpg.Connection, project: Project, annotator: str, *,
                      qualification: bool) -> TaskRow | None:
    """A fresh task on a gold item the annotator never had (one task per annotator and gold item)."""
    item_id = await conn.fetchval(_GOLD_PICK_SQL, project.project_id, annotator)
    if item_id is None:
        return None
    task = TaskRow(task_id=uuid.uuid4(), item_id=item_id, project_id=project.project_id, round=1,
                   state=TaskState.UNASSIGNED, annotator_id=None, gold=True)
    await conn.execute(
        "INSERT INTO tasks (task_id, item_id, project_id, slot, round, state, gold) VALUES ($1, $2, $3, 0, 1,"
        " 'unassigned', true)",
        task.task_id, task.item_id, task.project_id,
    )
    await transitions.assign(conn, task, annotator, lease_seconds=project.policy.lease_seconds,
                             schema_version=project.schema_version, qualification=qualification,
                             reason="leased (qualification)" if qualification else "leased")
    return TaskRow(task_id=task.task_id, item_id=item_id, project_id=task.project_id, round=1,
                   state=TaskState.ASSIGNED, annotator_id=annotator, gold=True, qualification=qualification)


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
    """The holder gives the slot back to the queue for someone else and never gets this item again. A retried skip
    is a no-op."""
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
        await conn.execute(
            "INSERT INTO skips (item_id, annotator_id, task_id, round, reason) VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT DO NOTHING",
            task.item_id, annotator, tid, task.round, reason,
        )
        why = f"skipped: {reason}" if reason else "skipped"
        await release_tasks(conn, [task], actor=annotator, reason=lambda _: why)

