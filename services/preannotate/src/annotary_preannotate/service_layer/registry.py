"""The model registry: versions with lineage (training data, metrics, who promoted), and the serving one."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from annotary.events.v1 import events_pb2
from annotary_common import outbox, topics

PRODUCER = "preannotate"


@dataclass(frozen=True)
class VersionRecord:
    model_version: str
    project_id: str
    plugin: str
    number: int
    status: str
    parent_version: str | None
    metrics: dict[str, Any]
    training_items: int
    heldout_items: int
    training_data: dict[str, Any]
    artifact_key: str
    promoted_by: str | None
    created_at: datetime
    promoted_at: datetime | None
    serving: bool


def version_name(plugin: str, project_id: str, number: int) -> str:
    return f"{plugin}@{project_id}/v{number}"


# How many unlabeled items a newly serving version re-scores: the part of the queue served next (the most uncertain
# by the last model, those never scored first). Re-predicting a million-item queue after every promotion (every N
# labels) is hours of CPU for items nobody reaches before the next one; new items are always scored as they arrive.
RESCORE_WINDOW = 10_000


async def next_number(conn: asyncpg.Connection, project_id: str) -> int:
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('preannotate-version-' || $1))", project_id)
    value = await conn.fetchval("SELECT coalesce(max(number), 0) + 1 FROM model_versions WHERE project_id = $1",
                                project_id)
    return int(value)


async def serving_version(conn: asyncpg.Connection, project_id: str) -> str | None:
    value = await conn.fetchval("SELECT serving_version FROM projects WHERE project_id = $1", project_id)
    return str(value) if value is not None else None


async def record_trained(conn: asyncpg.Connection, *, model_version: str, project_id: str, plugin: str,
                         number: int, promoted: bool, parent_version: str | None, metrics: dict[str, Any],
                         training_items: int, heldout_items: int, training_data: dict[str, Any],
                         artifact_key: str, window: int = RESCORE_WINDOW) -> None:
    """Register a trained candidate; when promoted it becomes the serving version. Emits model.trained.
    Runs in the caller's transaction."""
    await conn.execute(
        """
        INSERT INTO model_versions (model_version, project_id, plugin, number, status, parent_version, metrics,
            training_items, heldout_items, training_data, artifact_key, promoted_by, promoted_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10::jsonb, $11, $12,
                CASE WHEN $5 = 'promoted' THEN now() END)
        """,
        model_version, project_id, plugin, number, "promoted" if promoted else "rejected", parent_version,
        json.dumps(metrics), training_items, heldout_items, json.dumps(training_data), artifact_key,
        "flywheel" if promoted else None)
    if promoted:
        await serve(conn, project_id, model_version, window)
    cand, inc = metrics["candidate"], metrics["incumbent"]
    await outbox.add_event(conn, topics.MODEL_TRAINED, key=project_id, producer=PRODUCER,
                           payload=events_pb2.ModelTrained(
                               project_id=project_id, model_version=model_version, plugin=plugin,
                               promoted=promoted, metric=metrics["metric"],
                               candidate_value=cand[metrics["metric"]], incumbent_value=inc[metrics["metric"]],
                               incumbent_version=parent_version or "", training_items=training_items,
                               heldout_items=heldout_items, promoted_by="flywheel" if promoted else "",
                               metrics_json=json.dumps(metrics)))


async def record_connected(conn: asyncpg.Connection, *, project_id: str, plugin: str, actor: str,
                           artifact_key: str, details: dict[str, Any], window: int = RESCORE_WINDOW) -> str:
    """Register a model served elsewhere as the project's next version and make it the serving one (its
    artifact is the connection config). Runs in the caller's transaction; returns the version's name."""
    number = await next_number(conn, project_id)
    version = version_name(plugin, project_id, number)
    await conn.execute(
        """
        INSERT INTO model_versions (model_version, project_id, plugin, number, status, parent_version, metrics,
            training_items, heldout_items, training_data, artifact_key, promoted_by, promoted_at)
        VALUES ($1, $2, $3, $4, 'promoted', $5, '{}'::jsonb, 0, 0, $6::jsonb, $7, $8, now())
        """,
        version, project_id, plugin, number, await serving_version(conn, project_id), json.dumps(details),
        artifact_key, actor)
    await serve(conn, project_id, version, window)
    return version


async def promote(conn: asyncpg.Connection, project_id: str, model_version: str, actor: str,
                  window: int = RESCORE_WINDOW) -> bool:
    """Make a registered version the serving one (manual promotion); False when it is not registered."""
    updated = await conn.fetchval(
        "UPDATE model_versions SET status = 'promoted', promoted_by = $3, promoted_at = now() "
        "WHERE project_id = $1 AND model_version = $2 RETURNING true", project_id, model_version, actor)
    if not updated:
        return False
    await serve(conn, project_id, model_version, window)
    return True


async def serve(conn: asyncpg.Connection, project_id: str, model_version: str,
                window: int = RESCORE_WINDOW) -> None:
    """Make ``model_version`` the project's serving version and queue up to ``window`` unlabeled items for
    re-scoring (the most uncertain by the last model, never-scored ones first, then by arrival)."""
    await conn.execute(
        "INSERT INTO projects (project_id, serving_version) VALUES ($1, $2) ON CONFLICT (project_id) "
        "DO UPDATE SET serving_version = EXCLUDED.serving_version, updated_at = now()", project_id, model_version)
    await conn.execute(
        "UPDATE items SET needs_score = true WHERE item_id IN (SELECT item_id FROM items WHERE project_id = $1"
        " AND NOT labeled ORDER BY uncertainty DESC NULLS FIRST, seq LIMIT $2)", project_id, window)


async def list_versions(conn: asyncpg.Connection, project_id: str) -> list[VersionRecord]:
    rows = await conn.fetch(
        "SELECT v.*, (p.serving_version = v.model_version) AS serving FROM model_versions v "
        "LEFT JOIN projects p USING (project_id) WHERE v.project_id = $1 ORDER BY v.number DESC", project_id)
    return [VersionRecord(r["model_version"], r["project_id"], r["plugin"], r["number"], r["status"],
                          r["parent_version"], json.loads(r["metrics"]), r["training_items"], r["heldout_items"],
                          json.loads(r["training_data"]), r["artifact_key"], r["promoted_by"], r["created_at"],
                          r["promoted_at"], bool(r["serving"])) for r in rows]


async def artifact_of(conn: asyncpg.Connection, model_version: str) -> tuple[str, str] | None:
    row = await conn.fetchrow("SELECT plugin, artifact_key FROM model_versions WHERE model_version = $1",
                              model_version)
    return (row["plugin"], row["artifact_key"]) if row is not None else None
