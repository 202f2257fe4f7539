"""The append-only audit log (migration 003): who changed what, when, from what to what.

Changes made by this service (projects, schemas, policies, users, tokens, exports) are recorded with
:func:`record` on the connection of the change, inside its transaction. Annotations change in the orchestrator
and qa; their events are turned into audit rows by :mod:`annotary_annotation_api.service_layer.audit_events`.
The table refuses UPDATE, DELETE and TRUNCATE (a trigger), so a row once written stays as written.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg

ENTITIES = ("annotation", "project", "schema", "policy", "user", "token", "export", "webhook")
MAX_LIMIT = 1000


async def record(
    conn: asyncpg.Connection,
    *,
    actor_id: str | uuid.UUID,
    actor_name: str | None,
    action: str,
    entity: str,
    entity_id: str | uuid.UUID,
    before: Any = None,
    after: Any = None,
    refs: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    await record_many(conn, [Entry(actor_id=str(actor_id), actor_name=actor_name, action=action, entity=entity,
                                   entity_id=str(entity_id), before=before, after=after, refs=refs or {}, at=at)])


@dataclass(frozen=True)
class Entry:
    """One audit row, for :func:`record_many`."""

    actor_id: str
    actor_name: str | None
    action: str
    entity: str
    entity_id: str
    before: Any = None
    after: Any = None
    refs: dict[str, Any] = field(default_factory=dict)
    at: datetime | None = None


_RECORD_MANY = """
INSERT INTO audit_log (at, actor_id, actor_name, action, entity, entity_id, before, after, refs)
SELECT coalesce(e.at, now()), e.actor_id, e.actor_name, e.action, e.entity, e.entity_id, e.before::jsonb,
       e.after::jsonb, e.refs::jsonb
FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
            $9::text[])
     WITH ORDINALITY AS e(at, actor_id, actor_name, action, entity, entity_id, before, after, refs, n)
ORDER BY e.n
"""


async def record_many(conn: asyncpg.Connection, entries: Sequence[Entry]) -> None:
    """Rows in the order given, in one statement (the event consumer's runs)."""
    if not entries:
        return
    unknown = {e.entity for e in entries} - set(ENTITIES)
    if unknown:
        raise ValueError(f"unknown audit entity {sorted(unknown)[0]!r}")
    await conn.execute(
        _RECORD_MANY,
        [e.at for e in entries], [e.actor_id for e in entries], [e.actor_name for e in entries],
        [e.action for e in entries], [e.entity for e in entries], [e.entity_id for e in entries],
        [None if e.before is None else json.dumps(e.before) for e in entries],
        [None if e.after is None else json.dumps(e.after) for e in entries],
        [json.dumps(e.refs) for e in entries],
    )


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def entry_view(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "at": _iso(row["at"]),
        "actor": {"id": row["actor_id"], "username": row["actor_name"]},
        "action": row["action"],
        "entity": row["entity"],
        "entity_id": row["entity_id"],
        "before": None if row["before"] is None else json.loads(row["before"]),
        "after": None if row["after"] is None else json.loads(row["after"]),
        "refs": json.loads(row["refs"]),
        "recorded_at": _iso(row["recorded_at"]),
    }


_COLUMNS = "id, at, actor_id, actor_name, action, entity, entity_id, before::text AS before, after::text AS after," \
    " refs::text AS refs, recorded_at"


async def entries(
    conn: asyncpg.Connection,
    *,
    entity: str | None,
    entity_id: str | None,
    actor_id: str | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Oldest first; ``after_id`` pages on (pass the last ``id`` seen)."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM audit_log
             WHERE ($1::text IS NULL OR entity = $1) AND ($2::text IS NULL OR entity_id = $2)
               AND ($3::text IS NULL OR actor_id = $3) AND id > $4
             ORDER BY id LIMIT $5""",
        entity,
        entity_id,
        actor_id,
        after_id,
        max(1, min(limit, MAX_LIMIT)),
    )
    return [entry_view(r) for r in rows]


async def annotation_history(conn: asyncpg.Connection, ref: str) -> list[dict[str, Any]]:
    """Every change of the annotation of an item, given the item id or the id of one of its tasks."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM audit_log
             WHERE entity = 'annotation' AND entity_id = coalesce(
                   (SELECT entity_id FROM audit_log
                     WHERE entity = 'annotation' AND refs ->> 'task_id' = $1 ORDER BY id LIMIT 1), $1)
             ORDER BY at, id""",
        ref,
    )
    return [entry_view(r) for r in rows]


async def latest_after(conn: asyncpg.Connection, entity: str, entity_id: str) -> Any:
    """The state the last recorded change left ``entity`` in (None when there is none)."""
    raw = await conn.fetchval(
        "SELECT after::text FROM audit_log WHERE entity = $1 AND entity_id = $2 ORDER BY id DESC LIMIT 1",
        entity,
        entity_id,
    )
    return None if raw is None else json.loads(raw)
