"""Manager actions on quality state: pause an annotator by hand, and migrate accepted annotations from one label
schema version to a newer one (a label mapping), publishing each changed item again as annotation.accepted."""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from annotary.events.v1 import events_pb2
from annotary_common import outbox, topics
from annotary_qa.domain.consensus import canonical_json
from annotary_qa.service_layer.decisions import PRODUCER, annotator_ids, prelabel_versions
from annotary_qa.service_layer.projects import load_project

log = logging.getLogger(__name__)

# Decisions read per batch while migrating (each batch commits with its events).
BATCH = 500


class MigrationError(Exception):
    """A request that names what is wrong (INVALID_ARGUMENT)."""


@dataclass(frozen=True)
class MigrationCounts:
    migrated: int = 0
    relabeled: int = 0
    dropped: int = 0


def relabel(result: list[Any], mapping: dict[str, str]) -> tuple[list[Any], int, int]:
    """The result with every mapped label replaced (an empty target drops the region, and relations that point at
    a dropped region), and how many regions were relabeled and dropped."""
    out: list[Any] = []
    dropped_ids: set[str] = set()
    relabeled = dropped = 0
    for region in result:
        label = region.get("label") if isinstance(region, dict) else None
        if isinstance(label, str) and label in mapping:
            target = mapping[label]
            if not target:
                dropped += 1
                if isinstance(region.get("id"), str):
                    dropped_ids.add(region["id"])
                continue
            if target != label:
                region = {**region, "label": target}
                relabeled += 1
        out.append(region)
    if dropped_ids:
        kept = [r for r in out if not (isinstance(r, dict) and r.get("type") == "relation"
                                       and (r.get("from") in dropped_ids or r.get("to") in dropped_ids))]
        dropped += len(out) - len(kept)
        out = kept
    return out, relabeled, dropped


async def migrate_labels(conn: asyncpg.Connection, project_id: str, from_version: int, to_version: int,
                         mapping: dict[str, str], actor: str) -> MigrationCounts:
    """Move every accepted decision of ``from_version`` (the item's latest round) to ``to_version``. Idempotent:
    a decision already moved is not touched again, so a retry after a crash finishes the job."""
    if from_version < 1 or to_version <= from_version:
        raise MigrationError(f"to_version: must be newer than from_version ({from_version} -> {to_version})")
    if not actor.strip():
        raise MigrationError("actor: is required (the manager's id)")
    for old, new in mapping.items():
        if not old:
            raise MigrationError("mapping: a key (the old label) is empty")
        if new is None:
            raise MigrationError(f"mapping[{old!r}]: must be a label or an empty string (drop)")
    project = await load_project(conn, project_id)
    if to_version > project.schema_version:
        raise MigrationError(f"to_version: {to_version} is newer than the project's schema version "
                             f"{project.schema_version} (ConfigureProject first)")
    total = MigrationCounts()
    while True:
        async with conn.transaction():
            rows = await conn.fetch(
                """
                SELECT d.item_id, d.round, d.result_json::text AS result_json, d.agreement, d.agreement_metric,
                       d.decided_by, d.task_submitted
                  FROM decisions d
                 WHERE d.project_id = $1 AND d.schema_version = $2 AND d.outcome = 'accepted'
                   AND d.round = (SELECT max(round) FROM decisions l WHERE l.item_id = d.item_id)
                 ORDER BY d.item_id
                 LIMIT $3
                 FOR UPDATE OF d SKIP LOCKED
                """,
                project_id, from_version, BATCH,
            )
            counts = [await _migrate_one(conn, row, to_version, mapping) for row in rows]
        for relabeled, dropped in counts:
            total = MigrationCounts(total.migrated + 1, total.relabeled + relabeled, total.dropped + dropped)
        if len(rows) < BATCH:
            break
    log.info("labels migrated", extra={"project_id": project_id, "from_version": from_version,
                                       "to_version": to_version, "migrated": total.migrated, "actor": actor})
    return total


async def _migrate_one(conn: asyncpg.Connection, row: asyncpg.Record, to_version: int,
                       mapping: dict[str, str]) -> tuple[int, int]:
    result = json.loads(row["result_json"]) if row["result_json"] else []
    new_result, relabeled, dropped = relabel(result if isinstance(result, list) else [], mapping)
    new_json = canonical_json(new_result)
    await conn.execute("UPDATE decisions SET schema_version = $3, result_json = $4::jsonb"
                       " WHERE item_id = $1 AND round = $2", row["item_id"], row["round"], to_version, new_json)
    msg = events_pb2.TaskSubmitted()
    if row["task_submitted"] is not None:
        msg.ParseFromString(bytes(row["task_submitted"]))
    item = msg.item if msg.HasField("item") else events_pb2.ItemSnapshot(item_id=str(row["item_id"]))
    await outbox.add_event(
        conn, topics.ANNOTATION_ACCEPTED, key=item.item_id, producer=PRODUCER,
        payload=events_pb2.AnnotationAccepted(
            item=item, result_json=new_json, submissions=msg.submissions, agreement=row["agreement"],
            round=row["round"], schema_version=to_version, annotator_ids=annotator_ids(msg.submissions),
            prelabel_model_versions=prelabel_versions(msg.submissions), agreement_metric=row["agreement_metric"],
            decided_by=row["decided_by"] or "consensus",
        ),
    )
    return relabeled, dropped


async def pause(conn: asyncpg.Connection, project_id: str, annotator_id: str, reason: str, actor: str) -> bool:
    """Pause an annotator by hand (annotator.paused with paused=true); False when they were paused already."""
    if not reason.strip():
        raise MigrationError("reason: is required (it is shown to the annotator)")
    if not actor.strip():
        raise MigrationError("actor: is required (the manager's id)")
    try:
        uuid.UUID(annotator_id)
    except ValueError:
        raise MigrationError(f"annotator_id: {annotator_id!r} is not a UUID") from None
    async with conn.transaction():
        await load_project(conn, project_id)
        paused = await conn.fetchval(
            """
            INSERT INTO annotators (project_id, annotator_id, paused, pause_reason, paused_at)
            VALUES ($1, $2, true, $3, now())
            ON CONFLICT (project_id, annotator_id) DO UPDATE
               SET paused = true, pause_reason = EXCLUDED.pause_reason, paused_at = now()
             WHERE NOT annotators.paused
            RETURNING true
            """,
            project_id, annotator_id, reason.strip(),
        )
        if not paused:
            return False
        await outbox.add_event(
            conn, topics.ANNOTATOR_PAUSED, key=project_id, producer=PRODUCER,
            payload=events_pb2.AnnotatorPaused(project_id=project_id, annotator_id=annotator_id, paused=True,
                                               reason=reason.strip(), actor=actor),
        )
    log.info("annotator paused by hand", extra={"project_id": project_id, "annotator_id": annotator_id,
                                                 "actor": actor})
    return True
