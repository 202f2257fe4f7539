"""``annotation.accepted`` in: keep each item's latest accepted annotation (a later round replaces an earlier)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg

from annotary.events.v1 import events_pb2
from annotary_common import topics
from annotary_common.bus import PermanentError
from annotary_common.events import Event
from annotary_export.domain.model import AcceptedItem
from annotary_export.service_layer import webhooks


def _uuid(name: str, value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise PermanentError(f"{name}: {value!r} is not a UUID") from None


def _result(raw: str) -> list[Any]:
    if not raw:
        return []
    try:
        result = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise PermanentError(f"result_json: not valid JSON ({exc.msg})") from None
    if not isinstance(result, list):
        raise PermanentError(f"result_json: must be a list of regions, got {type(result).__name__}")
    return result


async def on_annotation_accepted(conn: asyncpg.Connection, event: Event) -> None:
    """Bus handler (runs in the consumer's inbox transaction): upsert the item's accepted row."""
    msg = event.payload
    assert isinstance(msg, events_pb2.AnnotationAccepted)
    item_id = _uuid("item.item_id", msg.item.item_id)
    project_id = _uuid("item.project_id", msg.item.project_id)
    result = _result(msg.result_json)
    annotators = list(dict.fromkeys(s.annotator_id for s in msg.submissions if s.annotator_id))
    occurred = event.envelope.occurred_at
    accepted_at = occurred.ToDatetime(tzinfo=UTC) if occurred.seconds or occurred.nanos else datetime.now(UTC)
    annotators = list(dict.fromkeys([*msg.annotator_ids, *annotators]))
    inserted = await conn.fetchval(
        """INSERT INTO accepted (item_id, project_id, snapshot, result_json, agreement, round, annotators, accepted_at,
                                 external_id, schema_version, prelabel_model_versions, agreement_metric, decided_by)
           VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9, $10, $11, $12, $13)
           ON CONFLICT (item_id) DO UPDATE SET
               project_id = EXCLUDED.project_id, snapshot = EXCLUDED.snapshot, result_json = EXCLUDED.result_json,
               agreement = EXCLUDED.agreement, round = EXCLUDED.round, annotators = EXCLUDED.annotators,
               accepted_at = EXCLUDED.accepted_at, external_id = EXCLUDED.external_id,
               schema_version = EXCLUDED.schema_version, prelabel_model_versions = EXCLUDED.prelabel_model_versions,
               agreement_metric = EXCLUDED.agreement_metric, decided_by = EXCLUDED.decided_by,
               revision = nextval('accepted_revision')
           WHERE accepted.round <= EXCLUDED.round
           RETURNING true""",
        item_id, project_id, msg.item.SerializeToString(deterministic=True), json.dumps(result, ensure_ascii=False),
        msg.agreement, msg.round, annotators, accepted_at, msg.item.external_id, msg.schema_version,
        list(msg.prelabel_model_versions), msg.agreement_metric, msg.decided_by,
    )
    if inserted:
        await webhooks.fan_out(conn, event.envelope.type or topics.ANNOTATION_ACCEPTED, event.envelope.event_id,
                               project_id, {
                                   "item_id": str(item_id), "external_id": msg.item.external_id,
                                   "result": result, "agreement": msg.agreement, "round": msg.round,
                                   "annotators": annotators, "schema_version": msg.schema_version,
                                   "decided_by": msg.decided_by})


ACCEPTED_COLUMNS = ("item_id, snapshot, result_json, agreement, round, annotators, schema_version, "
                    "prelabel_model_versions, agreement_metric, decided_by, revision")


def accepted_item(row: asyncpg.Record) -> AcceptedItem:
    """The domain view of an ``accepted`` row."""
    snap = events_pb2.ItemSnapshot.FromString(row["snapshot"])
    try:
        meta = json.loads(snap.meta_json) if snap.meta_json else {}
    except json.JSONDecodeError:
        meta = {}
    return AcceptedItem(
        item_id=str(row["item_id"]), external_id=snap.external_id, modality=snap.modality or "image",
        media_uri=snap.media_uri, media_type=snap.media_type, text=snap.text, width=snap.width, height=snap.height,
        meta=meta if isinstance(meta, dict) else {}, result=json.loads(row["result_json"]),
        agreement=row["agreement"], annotators=list(row["annotators"]), round=row["round"],
        schema_version=row.get("schema_version", 0),
        prelabel_model_versions=list(row.get("prelabel_model_versions", [])),
        agreement_metric=row.get("agreement_metric", ""), decided_by=row.get("decided_by", ""),
        revision=row.get("revision", 0),
    )
