"""Label schema versions and label migrations: which labels a version has, and checking a mapping from one
version's labels to a newer one's before qa applies it to the accepted annotations."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg


class MappingError(Exception):
    """A mapping that does not fit the two versions; the message names the label."""


def label_names(schema: dict[str, Any]) -> list[str]:
    return [str(label["name"]) for label in schema.get("labels", []) if isinstance(label, dict) and "name" in label]


def check_mapping(old: dict[str, Any], new: dict[str, Any], mapping: dict[str, str | None]) -> dict[str, str]:
    """The mapping qa applies (old label -> new label, "" drops the regions). Every old label that the new version
    lacks must be mapped; keys must be old labels and targets new ones."""
    old_names, new_names = label_names(old), set(label_names(new))
    for source, target in mapping.items():
        if source not in old_names:
            raise MappingError(
                f"mapping: {source!r} is not a label of the old version (its labels: {', '.join(old_names) or 'none'})"
            )
        if target is not None and target != "" and target not in new_names:
            raise MappingError(
                f"mapping[{source!r}]: {target!r} is not a label of the new version (its labels: "
                f"{', '.join(sorted(new_names)) or 'none'})"
            )
    unmapped = [name for name in old_names if name not in new_names and name not in mapping]
    if unmapped:
        raise MappingError(
            f"mapping: label(s) {', '.join(map(repr, unmapped))} of the old version are not in the "
            "new one: map each to a new label, or to null to drop its regions"
        )
    return {source: target or "" for source, target in mapping.items() if target != source}


async def versions(conn: asyncpg.Connection, project_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT version, schema, created_at FROM schema_versions WHERE project_id = $1 ORDER BY version", project_id
    )
    migrations = await conn.fetch(
        """SELECT m.from_version, m.to_version, m.mapping, m.migrated, m.relabeled, m.dropped, m.created_at,
                  u.username
             FROM label_migrations m JOIN users u ON u.id = m.actor_id
            WHERE m.project_id = $1 ORDER BY m.created_at""",
        project_id,
    )
    by_target: dict[int, list[dict[str, Any]]] = {}
    for m in migrations:
        by_target.setdefault(m["to_version"], []).append(
            {
                "from_version": m["from_version"],
                "mapping": json.loads(m["mapping"]),
                "migrated": m["migrated"],
                "relabeled": m["relabeled"],
                "dropped": m["dropped"],
                "by": m["username"],
                "at": m["created_at"].isoformat(),
            }
        )
    return [
        {
            "version": r["version"],
            "schema": json.loads(r["schema"]),
            "created_at": r["created_at"].isoformat(),
            "migrations": by_target.get(r["version"], []),
        }
        for r in rows
    ]


async def version_schema(conn: asyncpg.Connection, project_id: uuid.UUID, version: int) -> dict[str, Any] | None:
    raw = await conn.fetchval(
        "SELECT schema FROM schema_versions WHERE project_id = $1 AND version = $2", project_id, version
    )
    return None if raw is None else dict(json.loads(raw))


async def record_migration(
    conn: asyncpg.Connection,
    project_id: uuid.UUID,
    from_version: int,
    to_version: int,
    mapping: dict[str, str],
    counts: tuple[int, int, int],
    actor_id: uuid.UUID,
) -> None:
    await conn.execute(
        """INSERT INTO label_migrations (id, project_id, from_version, to_version, mapping, migrated, relabeled,
                                         dropped, actor_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
        uuid.uuid4(),
        project_id,
        from_version,
        to_version,
        json.dumps(mapping),
        *counts,
        actor_id,
    )
