"""Filling a project with many queued items in bulk, straight into the orchestrator's tables.

``fill`` writes, with a few INSERT ... SELECT over generate_series, what the orchestrator's ``item.ingested``
handler (services/orchestrator/.../service_layer/events.py, ``on_item_ingested``) writes for a new text item
without predictions or gold: the item row (state 'unassigned', round 1, the serialized ItemSnapshot), its
``overlap`` unassigned slots for round 1, and the item's history row. Item ids are ingest's
(uuid5 of project and content hash), so the same text imported later over REST is a duplicate, as it should be.

``verify`` then compares filled rows with rows the real event path wrote (a project imported over REST in the
same database), column by column, and the snapshots byte for byte with what protobuf serializes: when the
orchestrator's tables change, it names what the fill no longer matches.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from typing import Any

import asyncpg

from annotary.events.v1 import events_pb2
from bench.texts import ADJ, NOUN, TAIL, VERB, item_text

SCHEMA = "orchestrator"  # ServiceRuntime("orchestrator"): the service name is its schema
PRODUCER = "ingest"  # the envelope producer of item.ingested, which the handler records as the history actor
ITEM_NAMESPACE = "5b0c3f0e-7a1d-5c36-9d1e-2f7c1a9e4b10"  # annotary_ingest.domain.items.ITEM_NAMESPACE


def external_id(i: int) -> str:
    return f"fill-{i}"


async def fill(conn: asyncpg.Connection, project_id: str, count: int) -> dict[str, Any]:
    """Queue ``count`` text items (``bench.texts.item_text(0..count-1)``) in ``project_id``, already configured
    in the orchestrator; ANALYZE afterwards. Returns timings and row counts."""
    started = time.monotonic()
    await conn.execute("CREATE SCHEMA IF NOT EXISTS bench")
    await conn.execute('CREATE EXTENSION IF NOT EXISTS "uuid-ossp" SCHEMA bench')
    await conn.execute(f"SET search_path TO {SCHEMA}, public")
    policy = json.loads(await conn.fetchval("SELECT policy::text FROM projects WHERE id = $1", project_id))
    overlap = int(policy.get("overlap", 1))
    # bench.texts.item_text(i) in SQL (verify() checks that both agree).
    a, n, v, t = (", ".join(f"'{w}'" for w in words) for words in (ADJ, NOUN, VERB, TAIL))
    text_sql = (f"'The ' || (ARRAY[{a}])[i % {len(ADJ)} + 1] || ' ' || (ARRAY[{n}])[(i / 7) % {len(NOUN)} + 1]"
                f" || ' ' || (ARRAY[{v}])[(i / 3) % {len(VERB)} + 1] || ' ' || (ARRAY[{t}])[(i / 11) % {len(TAIL)} + 1]"
                " || ' (#' || i || ').'")
    async with conn.transaction():
        await conn.execute(f"""
            CREATE TEMP TABLE fill_src ON COMMIT DROP AS
            SELECT i, txt, ext, hash, bench.uuid_generate_v5($2::uuid, $3 || ':' || hash) AS item_id
            FROM (SELECT i, txt, 'fill-' || i AS ext, encode(sha256(convert_to(txt, 'UTF8')), 'hex') AS hash
                  FROM (SELECT i, {text_sql} AS txt FROM generate_series(0, $1::int - 1) AS i) s) h""",
                           count, ITEM_NAMESPACE, project_id)
        # ItemSnapshot, serialized as protobuf does deterministically: fields in number order, empty ones left
        # out; every length here is below 128, so each is one byte.
        items = await conn.execute("""
            INSERT INTO items (item_id, project_id, state, round, snapshot, gold_json)
            SELECT item_id, $1::uuid, 'unassigned', 1,
                   '\\x0a24'::bytea || convert_to(item_id::text, 'UTF8')
                || '\\x1224'::bytea || convert_to($1::text, 'UTF8')
                || '\\x1a'::bytea || set_byte('\\x00'::bytea, 0, octet_length(ext)) || convert_to(ext, 'UTF8')
                || '\\x220474657874'::bytea
                || '\\x32'::bytea || set_byte('\\x00'::bytea, 0, octet_length(txt)) || convert_to(txt, 'UTF8')
                || '\\x4a027b7d'::bytea
                || '\\x5240'::bytea || convert_to(hash, 'UTF8')
                || '\\x5a0a'::bytea || convert_to('text/plain', 'UTF8'),
                   NULL
            FROM fill_src ORDER BY i""", project_id)
        tasks = await conn.execute("""
            INSERT INTO tasks (task_id, item_id, project_id, slot, round, priority, state)
            SELECT gen_random_uuid(), item_id, $1::uuid, slot, 1, 0, 'unassigned'
            FROM fill_src CROSS JOIN generate_series(0, $2::int - 1) AS slot ORDER BY i, slot""",
                                   project_id, overlap)
        history = await conn.execute("""
            INSERT INTO item_history (subject, item_id, task_id, actor, from_state, to_state, reason)
            SELECT 'item', item_id, NULL, $1, NULL, 'unassigned', $2 FROM fill_src ORDER BY i""",
                                     PRODUCER, f"ingested with {overlap} slot(s) for round 1")
    inserted = time.monotonic()
    await conn.execute("ANALYZE items; ANALYZE tasks; ANALYZE item_history")
    return {
        "items": count,
        "overlap": overlap,
        "rows": {name: int(status.rsplit(" ", 1)[-1]) for name, status in
                 (("items", items), ("tasks", tasks), ("item_history", history))},
        "insert_s": round(inserted - started, 1),
        "analyze_s": round(time.monotonic() - inserted, 1),
    }


# Columns that differ between any two items by nature (ids, order, clocks); everything else must be equal.
_PER_ROW = {
    "items": {"item_id", "project_id", "snapshot", "seq", "created_at", "updated_at"},
    "tasks": {"task_id", "item_id", "project_id", "seq", "created_at", "updated_at"},
    "item_history": {"id", "item_id", "task_id", "at"},
}
# What later events write for an imported item, not item.ingested: preannotate's item.preannotated (predictions)
# and item.scored (item_scores, and the score copied onto the free slots). The fill leaves them out; verify lists
# them apart (``later_events``), since they depend on the models preannotate runs, not on the import.
_LATER_EVENTS = {"tasks.score", "predictions", "item_scores"}


async def verify(conn: asyncpg.Connection, project_id: str, reference_project_id: str) -> dict[str, Any]:
    """Compare filled rows with those the event path wrote for an untouched item of ``reference_project_id``.

    Returns ``{"ok": bool, "mismatches": [...], "later_events": [...]}``; each entry names the table and column.
    ``ok`` is about what item.ingested writes; ``later_events`` is what other events added to the reference item.
    """
    await conn.execute(f"SET search_path TO {SCHEMA}, public")
    mismatches: list[str] = []
    later: list[str] = []
    ref_item = await conn.fetchval(
        "SELECT item_id FROM items WHERE project_id = $1 AND state = 'unassigned' ORDER BY item_id LIMIT 1",
        reference_project_id)
    filled = await conn.fetch(
        "SELECT item_id, snapshot FROM items WHERE project_id = $1 AND item_id = ANY($2::uuid[])",
        project_id, [_item_id(project_id, i) for i in (0, 1, 2)])
    if ref_item is None or len(filled) != 3:
        return {"ok": False, "mismatches": ["no reference item, or the filled items are missing"]}
    # 1. The snapshot, byte for byte, against protobuf's own serialization of the same item.
    for i in (0, 1, 2):
        want = _snapshot(project_id, i).SerializeToString(deterministic=True)
        got = next(bytes(r["snapshot"]) for r in filled if str(r["item_id"]) == _item_id(project_id, i))
        if got != want:
            mismatches.append(f"items.snapshot of item {i}: {got.hex()} != protobuf's {want.hex()}")
    # ... and it carries the same fields as a snapshot ingest wrote.
    ref_snap = events_pb2.ItemSnapshot.FromString(
        await conn.fetchval("SELECT snapshot FROM items WHERE item_id = $1", ref_item))
    fill_fields = {f.name for f, _ in _snapshot(project_id, 0).ListFields()}
    ref_fields = {f.name for f, _ in ref_snap.ListFields()}
    if fill_fields != ref_fields:
        mismatches.append(f"snapshot fields {sorted(fill_fields)} != ingest's {sorted(ref_fields)}")
    # 2. Every column of items, tasks and item_history, except ids and clocks.
    fill_item = filled[0]["item_id"]
    queries = {
        "items": "SELECT to_jsonb(x) AS row FROM items x WHERE item_id = $1",
        "tasks": "SELECT to_jsonb(x) AS row FROM tasks x WHERE item_id = $1 ORDER BY round, slot",
        "item_history": "SELECT to_jsonb(x) AS row FROM item_history x WHERE item_id = $1 ORDER BY id",
    }
    for table, sql in queries.items():
        ref_rows = [json.loads(r["row"]) for r in await conn.fetch(sql, ref_item)]
        fill_rows = [json.loads(r["row"]) for r in await conn.fetch(sql, fill_item)]
        if len(ref_rows) != len(fill_rows):
            mismatches.append(f"{table}: {len(fill_rows)} row(s) per item, the event path wrote {len(ref_rows)}")
            continue
        for ref, got in zip(ref_rows, fill_rows, strict=True):
            for column in sorted(set(ref) | set(got)):
                if column in _PER_ROW[table]:
                    continue
                if ref.get(column) != got.get(column):
                    where = later if f"{table}.{column}" in _LATER_EVENTS else mismatches
                    where.append(f"{table}.{column}: filled {got.get(column)!r}, event path {ref.get(column)!r}")
    # 3. Any other table of the schema with an item_id column (predictions, scores, ...): same number of rows.
    tables = [r["table_name"] for r in await conn.fetch(
        "SELECT table_name FROM information_schema.columns WHERE table_schema = $1 AND column_name = 'item_id'"
        " AND table_name NOT IN ('items', 'tasks', 'item_history')", SCHEMA)]
    for table in tables:
        counts = [await conn.fetchval(f'SELECT count(*) FROM "{table}" WHERE item_id = $1', item)
                  for item in (ref_item, fill_item)]
        if counts[0] != counts[1]:
            where = later if table in _LATER_EVENTS else mismatches
            where.append(f"{table}: {counts[1]} row(s) for a filled item, the event path wrote {counts[0]}")
    outbox = [await conn.fetchval("SELECT count(*) FROM outbox WHERE key = $1", str(item))
              for item in (ref_item, fill_item)]
    if outbox[0] != outbox[1]:
        mismatches.append(f"outbox: {outbox[1]} event(s) for a filled item, the event path staged {outbox[0]}")
    return {"ok": not mismatches, "mismatches": mismatches, "later_events": later,
            "tables_compared": ["items", "tasks", "item_history", *tables, "outbox"]}


def _item_id(project_id: str, i: int) -> str:
    return str(uuid.uuid5(uuid.UUID(ITEM_NAMESPACE), f"{project_id}:{_hash(i)}"))


def _hash(i: int) -> str:
    return hashlib.sha256(item_text(i).encode("utf-8")).hexdigest()


def _snapshot(project_id: str, i: int) -> events_pb2.ItemSnapshot:
    """What ingest puts in item.ingested for ``{"external_id": "fill-i", "text": item_text(i)}``."""
    return events_pb2.ItemSnapshot(
        item_id=_item_id(project_id, i), project_id=project_id, external_id=external_id(i), modality="text",
        text=item_text(i), meta_json=json.dumps({}), content_hash=_hash(i), media_type="text/plain",
    )
