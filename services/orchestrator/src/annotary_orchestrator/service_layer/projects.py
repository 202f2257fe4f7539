"""Projects: their policy and schema version (ConfigureProject), their figures (GetProjectStats) and the priorities
of their items (SetItemPriority)."""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from annotary_common.grpc_util import InvalidArgument, NotFound
from annotary_orchestrator.domain.policy import DEFAULT_MAX_ACTIVE, InvalidPolicy, Policy
from annotary_orchestrator.service_layer.common import parse_uuid

MAX_PRIORITY_ITEMS = 100_000


@dataclass(frozen=True)
class Project:
    project_id: uuid.UUID
    policy: Policy
    schema_version: int


async def configure_project(conn: asyncpg.Connection, project_id: str, policy: Policy,
                            schema_version: int = 0, task_type: str = "") -> uuid.UUID:
    """Create or replace a project's policy (and schema version: 0 keeps the current one, 1 for a new project; and
    task type, the metrics label: "" keeps the current one). A new overlap applies to items ingested (and rounds
    started) later."""
    pid = parse_uuid(project_id, "project_id")
    try:
        policy.validated()
    except InvalidPolicy as exc:
        raise InvalidArgument(str(exc)) from None
    if schema_version < 0:
        raise InvalidArgument(f"schema_version must be 1 or more (0 keeps the current one), got {schema_version}")
    if len(task_type) > 100:
        raise InvalidArgument(f"task_type is longer than 100 characters ({len(task_type)})")
    await conn.execute(
        "INSERT INTO projects (id, policy, schema_version, task_type) VALUES ($1, $2::jsonb, greatest($3, 1), $4)"
        " ON CONFLICT (id) DO UPDATE SET policy = EXCLUDED.policy, updated_at = now(),"
        " schema_version = CASE WHEN $3 > 0 THEN $3 ELSE projects.schema_version END,"
        " task_type = CASE WHEN $4 <> '' THEN $4 ELSE projects.task_type END",
        pid, json.dumps(policy.to_json()), schema_version, task_type,
    )
    return pid


async def find_project(conn: asyncpg.Connection, project_id: uuid.UUID) -> Project | None:
    row = await conn.fetchrow("SELECT policy::text AS policy, schema_version FROM projects WHERE id = $1", project_id)
    if row is None:
        return None
    return Project(project_id=project_id, policy=policy_of(row["policy"]), schema_version=row["schema_version"])


@functools.lru_cache(maxsize=1024)
def policy_of(text: str) -> Policy:
    """A stored policy (its JSON text; parsed once per distinct text: a lease reads it every time)."""
    return Policy.from_json(json.loads(text))


async def require_project(conn: asyncpg.Connection, project_id: uuid.UUID) -> Project:
    project = await find_project(conn, project_id)
    if project is None:
        raise not_configured(project_id)
    return project


def not_configured(project_id: uuid.UUID) -> NotFound:
    return NotFound(f"project_id {project_id} is not configured (call ConfigureProject first)")


async def find_policy(conn: asyncpg.Connection, project_id: uuid.UUID) -> Policy | None:
    project = await find_project(conn, project_id)
    return None if project is None else project.policy


async def require_policy(conn: asyncpg.Connection, project_id: uuid.UUID) -> Policy:
    return (await require_project(conn, project_id)).policy


@dataclass(frozen=True)
class ProjectStats:
    item_states: dict[str, int]
    task_states: dict[str, int]
    submissions_last_hour: int
    gold_items: int = 0


async def project_stats(conn: asyncpg.Connection, project_id: str) -> ProjectStats:
    """Item and task counts by state (only states with at least one; an empty project gives empty maps), the
    submissions of the last hour (gold ones included), and the number of gold items. Gold items and their tasks are
    outside the state counts."""
    pid = parse_uuid(project_id, "project_id")
    await require_project(conn, pid)
    items = {r["state"]: r["n"] for r in await conn.fetch(
        "SELECT state, count(*) AS n FROM items WHERE project_id = $1 AND state <> 'gold' GROUP BY state", pid)}
    tasks = {r["state"]: r["n"] for r in await conn.fetch(
        "SELECT state, count(*) AS n FROM tasks WHERE project_id = $1 AND NOT gold GROUP BY state", pid)}
    recent = await conn.fetchval(
        "SELECT count(*) FROM tasks WHERE project_id = $1 AND submitted_at > now() - interval '1 hour'", pid
    )
    gold = await conn.fetchval("SELECT count(*) FROM items WHERE project_id = $1 AND state = 'gold'", pid)
    return ProjectStats(item_states=items, task_states=tasks, submissions_last_hour=int(recent), gold_items=int(gold))


async def set_item_priority(conn: asyncpg.Connection, project_id: str, item_ids: Sequence[str], priority: int) -> int:
    """Set the priority of some items of a project (all of them when ``item_ids`` is empty); returns how many items.

    Their unsubmitted slots move in the queue at once (an UPDATE of those rows, whose index entries move), and later
    rounds keep the priority. Atomic: an id that is not an item of the project is NOT_FOUND and changes nothing.
    """
    pid = parse_uuid(project_id, "project_id")
    if len(item_ids) > MAX_PRIORITY_ITEMS:
        raise InvalidArgument(f"item_ids: at most {MAX_PRIORITY_ITEMS} per call (leave it empty for the whole "
                              f"project), got {len(item_ids)}")
    ids = [parse_uuid(value, f"item_ids[{index}]") for index, value in enumerate(item_ids)]
    async with conn.transaction():
        await require_project(conn, pid)
        # One priority change per project at a time: two of them never lock the same slots in different orders.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"annotary-priority:{pid}")
        if ids:
            known = {r["item_id"] for r in await conn.fetch(
                "SELECT item_id FROM items WHERE project_id = $1 AND item_id = ANY($2::uuid[])", pid, ids)}
            missing = [str(i) for i in dict.fromkeys(ids) if i not in known]
            if missing:
                raise NotFound(f"item_ids: {len(missing)} not item(s) of project {pid}: {', '.join(missing[:5])}")
            # Slots first, then items: the lock order every transaction follows (tasks before items).
            await conn.execute(
                "UPDATE tasks SET priority = $3, updated_at = now() WHERE item_id = ANY($2::uuid[]) AND NOT gold"
                " AND project_id = $1 AND state <> 'submitted' AND priority <> $3",
                pid, ids, priority,
            )
            items_sql = "SELECT item_id FROM items WHERE project_id = $1 AND item_id = ANY($2::uuid[])"
            args: tuple[object, ...] = (pid, ids)
        else:
            await conn.execute(
                "UPDATE tasks SET priority = $2, updated_at = now() WHERE project_id = $1 AND NOT gold"
                " AND state <> 'submitted' AND priority <> $2",
                pid, priority,
            )
            items_sql, args = "SELECT item_id FROM items WHERE project_id = $1", (pid,)
        # Items locked in id order, as every transaction that locks several items does.
        locked = [r["item_id"] for r in await conn.fetch(f"{items_sql} ORDER BY item_id FOR UPDATE", *args)]
        await conn.execute("UPDATE items SET priority = $2, updated_at = now() WHERE item_id = ANY($1::uuid[])",
                           locked, priority)
    return len(locked)


def policy_from_fields(*, overlap: int, lease_seconds: int, agreement_threshold: float, gold_ratio: float,
                       gold_min_accuracy: float, review: str, max_active_per_annotator: int = 0,
                       max_items_per_annotator: int = 0, qualification_items: int = 0,
                       qualification_min_accuracy: float = 0.0) -> Policy:
    """A policy from request fields; an empty ``review`` (proto default) means 'none', a zero
    ``max_active_per_annotator`` the default (10)."""
    return Policy(overlap=overlap, lease_seconds=lease_seconds, agreement_threshold=agreement_threshold,
                  gold_ratio=gold_ratio, gold_min_accuracy=gold_min_accuracy, review=review or "none",
                  max_active_per_annotator=max_active_per_annotator or DEFAULT_MAX_ACTIVE,
                  max_items_per_annotator=max_items_per_annotator, qualification_items=qualification_items,
                  qualification_min_accuracy=qualification_min_accuracy)
