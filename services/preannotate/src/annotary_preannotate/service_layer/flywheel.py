"""The flywheel's database side: accepted labels in, training requests, the registry, scoring.

Bus handlers (``on_annotation_accepted``) only record and count; training and batch inference run in
:mod:`annotary_preannotate.service_layer.worker`, outside the consumer's transaction.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from annotary.events.v1 import events_pb2
from annotary_common import topics
from annotary_common.bus import PermanentError
from annotary_common.events import Event
from annotary_preannotate.domain.flywheel import is_heldout, retrain_due
from annotary_preannotate.domain.labels import choice_target
from annotary_preannotate.models.box_detector import boxes_of

log = logging.getLogger(__name__)

PRODUCER = "preannotate"


@dataclass(frozen=True)
class FlywheelConfig:
    retrain_every: int = 50
    holdout_fraction: float = 0.2


def _item_uuid(item_id: str, topic: str) -> uuid.UUID:
    try:
        return uuid.UUID(item_id)
    except ValueError:
        raise PermanentError(f"{topic}: item.item_id {item_id!r} is not a UUID") from None


def _kept(item: events_pb2.ItemSnapshot) -> bool:
    """Text, image and audio items are kept for the project's model (video is not)."""
    return bool((item.modality == "text" and item.text) or (item.modality in ("image", "audio") and item.media_uri))


async def record_item(conn: asyncpg.Connection, item: events_pb2.ItemSnapshot) -> bool:
    """Keep a text, image or audio item so the project's model can predict and score it (video is not kept)."""
    return bool(await record_items(conn, [item]))


# FOR SHARE orders the items with a concurrent promotion (which updates the project's row): either the promotion
# sees them, or they see the promoted version. Rows locked in project id order, as every batch does.
_SERVING_SQL = """
SELECT project_id, serving_version FROM projects WHERE project_id = ANY($1::text[])
ORDER BY project_id FOR SHARE
"""
_RECORD_SQL = """
INSERT INTO items (item_id, project_id, modality, text, media_uri, needs_score)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bool[])
ON CONFLICT (item_id) DO NOTHING
RETURNING item_id
"""


async def record_items(conn: asyncpg.Connection, items: Sequence[events_pb2.ItemSnapshot]) -> set[uuid.UUID]:
    """:func:`record_item` for a run of items, in two statements; returns the ids it kept now (an id kept before,
    or twice in the run, is kept once). Raises ``PermanentError`` for an id that is not a UUID, before writing."""
    kept = [(_item_uuid(item.item_id, topics.ITEM_INGESTED), item) for item in items if _kept(item)]
    if not kept:
        return set()
    serving = {row["project_id"]: row["serving_version"] for row in
               await conn.fetch(_SERVING_SQL, sorted({item.project_id for _, item in kept}))}
    rows = await conn.fetch(
        _RECORD_SQL, [item_id for item_id, _ in kept], [item.project_id for _, item in kept],
        [item.modality for _, item in kept], [item.text for _, item in kept], [item.media_uri for _, item in kept],
        [serving.get(item.project_id) is not None for _, item in kept])
    return {row["item_id"] for row in rows}


async def on_annotation_accepted(conn: asyncpg.Connection, event: Event, config: FlywheelConfig) -> None:
    """Bus handler: store the accepted choice as training data, count it, request training every N."""
    msg = event.payload
    if not isinstance(msg, events_pb2.AnnotationAccepted):
        raise PermanentError(f"expected AnnotationAccepted, got {type(msg).__name__}")
    item = msg.item
    item_uuid = _item_uuid(item.item_id, topics.ANNOTATION_ACCEPTED)
    if not item.project_id:
        raise PermanentError("annotation.accepted: item.project_id is empty")
    try:
        result = json.loads(msg.result_json or "[]")
    except ValueError:
        raise PermanentError("annotation.accepted: result_json is not JSON") from None
    target, kind = choice_target(result), "choice"
    if target is None and any(isinstance(r, dict) and r.get("type") == "span" for r in result):
        target, kind = ("", ""), "span"  # an NER example: the spans are in result_json
    if target is None and item.modality == "image" and boxes_of(result):
        target, kind = ("", ""), "box"  # a detection example: the boxes are in result_json
    learnable = (item.modality == "text" and item.text) or (
        item.modality == "image" and item.media_uri and kind in ("choice", "box"))
    if not learnable or target is None:
        return  # nothing a built-in trainable model learns from (yet)
    await conn.execute(
        "INSERT INTO items (item_id, project_id, modality, text, media_uri, labeled) "
        "VALUES ($1, $2, $3, $4, $5, true) ON CONFLICT (item_id) DO UPDATE SET labeled = true, needs_score = false",
        item_uuid, item.project_id, item.modality, item.text, item.media_uri)
    fresh = await conn.fetchval(
        """
        INSERT INTO labels (item_id, project_id, choice_name, value, result_json, heldout, kind)
        VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7)
        ON CONFLICT (item_id) DO UPDATE SET choice_name = EXCLUDED.choice_name, value = EXCLUDED.value,
            result_json = EXCLUDED.result_json, kind = EXCLUDED.kind, accepted_at = now()
        RETURNING (xmax = 0)
        """,
        item_uuid, item.project_id, target[0], target[1], json.dumps(result),
        is_heldout(item.item_id, config.holdout_fraction), kind)
    if not fresh:
        return  # a later round of an item counted already
    row = await conn.fetchrow(
        """
        INSERT INTO projects (project_id, accepted) VALUES ($1, 1)
        ON CONFLICT (project_id) DO UPDATE SET accepted = projects.accepted + 1, updated_at = now()
        RETURNING accepted, last_requested_at
        """, item.project_id)
    assert row is not None
    if retrain_due(row["accepted"], row["last_requested_at"], config.retrain_every):
        await conn.execute("UPDATE projects SET last_requested_at = accepted WHERE project_id = $1", item.project_id)
        await conn.execute("INSERT INTO training_jobs (project_id, accepted) VALUES ($1, $2)",
                           item.project_id, row["accepted"])
        await conn.execute("SELECT pg_notify(current_schema() || '_training', $1)", item.project_id)
        log.info("training requested", extra={"project_id": item.project_id, "accepted": row["accepted"]})


@dataclass(frozen=True)
class LabeledRow:
    item_id: str
    text: str
    value: str
    result: list[dict[str, object]]
    heldout: bool
    seq: int
    embedding: bytes | None
    kind: str = "choice"
    modality: str = "text"
    media_uri: str = ""


async def load_labels(conn: asyncpg.Connection, project_id: str) -> list[LabeledRow]:
    rows = await conn.fetch(
        "SELECT l.item_id, i.text, l.value, l.result_json, l.heldout, l.seq, i.embedding, l.kind, i.modality, "
        "i.media_uri FROM labels l JOIN items i USING (item_id) WHERE l.project_id = $1 ORDER BY l.seq", project_id)
    return [LabeledRow(str(r["item_id"]), r["text"], r["value"], json.loads(r["result_json"]), r["heldout"],
                       r["seq"], r["embedding"], r["kind"], r["modality"], r["media_uri"]) for r in rows]


async def store_embeddings(conn: asyncpg.Connection, pairs: Sequence[tuple[str, bytes]]) -> None:
    # In item order and in small transactions: a bus handler marking one of these items labeled meanwhile waits
    # briefly instead of deadlocking with a long, unordered batch.
    rows = sorted((uuid.UUID(i), e) for i, e in pairs)
    for start in range(0, len(rows), 200):
        await conn.executemany("UPDATE items SET embedding = $2 WHERE item_id = $1", rows[start:start + 200])
