"""Projects: their policy (ConfigureProject) and their figures (GetProjectStats)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import asyncpg

from annotary_common.grpc_util import InvalidArgument, NotFound
from annotary_orchestrator.domain.policy import InvalidPolicy, Policy
from annotary_orchestrator.service_layer.common import parse_uuid


async def configure_project(conn: asyncpg.Connection, project_id: str, policy: Policy) -> uuid.UUID:
    """Create or replace a project's policy. A new overlap applies to items ingested (and rounds started) later."""
    pid = parse_uuid(project_id, "project_id")
    try:
        policy.validated()
    except InvalidPolicy as exc:
        raise InvalidArgument(str(exc)) from None
    await conn.execute(
        "INSERT INTO projects (id, policy) VALUES ($1, $2::jsonb)"
        " ON CONFLICT (id) DO UPDATE SET policy = EXCLUDED.policy, updated_at = now()",
        pid, json.dumps(policy.to_json()),
    )
    return pid


async def find_policy(conn: asyncpg.Connection, project_id: uuid.UUID) -> Policy | None:
    raw = await conn.fetchval("SELECT policy::text FROM projects WHERE id = $1", project_id)
    return None if raw is None else Policy.from_json(json.loads(raw))


async def require_policy(conn: asyncpg.Connection, project_id: uuid.UUID) -> Policy:
    policy = await find_policy(conn, project_id)
    if policy is None:
        raise NotFound(f"project_id {project_id} is not configured (call ConfigureProject first)")
    return policy


@dataclass(frozen=True)
class ProjectStats:
    item_states: dict[str, int]
    task_states: dict[str, int]
    submissions_last_hour: int


async def project_stats(conn: asyncpg.Connection, project_id: str) -> ProjectStats:
    """Item and task counts by state (only states with at least one; an empty project gives empty maps) and
    the submissions of the last hour."""
    pid = parse_uuid(project_id, "project_id")
    await require_policy(conn, pid)
    items = {r["state"]: r["n"] for r in
             await conn.fetch("SELECT state, count(*) AS n FROM items WHERE project_id = $1 GROUP BY state", pid)}
    tasks = {r["state"]: r["n"] for r in
             await conn.fetch("SELECT state, count(*) AS n FROM tasks WHERE project_id = $1 GROUP BY state", pid)}
    recent = await conn.fetchval(
        "SELECT count(*) FROM tasks WHERE project_id = $1 AND submitted_at > now() - interval '1 hour'", pid
    )
    return ProjectStats(item_states=items, task_states=tasks, submissions_last_hour=int(recent))


def policy_from_fields(*, overlap: int, lease_seconds: int, agreement_threshold: float, gold_ratio: float,
                       gold_min_accuracy: float, review: str) -> Policy:
    """A policy from request fields; an empty ``review`` (proto default) means 'none'."""
    return Policy(overlap=overlap, lease_seconds=lease_seconds, agreement_threshold=agreement_threshold,
                  gold_ratio=gold_ratio, gold_min_accuracy=gold_min_accuracy, review=review or "none")
