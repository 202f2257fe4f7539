"""item.ingested: imported predictions stored per (item, model version) + item.preannotated, one transaction;
text items are kept for the project's model (the worker predicts and scores them)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

import asyncpg

from annotary.events.v1 import events_pb2
from annotary_common import outbox, topics
from annotary_common.bus import PermanentError, consume_span
from annotary_common.events import Event
from annotary_preannotate.domain.predictions import problem
from annotary_preannotate.service_layer import flywheel

log = logging.getLogger(__name__)

PRODUCER = "preannotate"


def _ingested(event: Event) -> events_pb2.ItemIngested:
    if not isinstance(event.payload, events_pb2.ItemIngested):
        raise PermanentError(f"expected ItemIngested, got {type(event.payload).__name__}")
    return event.payload


async def on_item_ingested(conn: asyncpg.Connection, event: Event) -> None:
    """Bus handler (group annotary-preannotate); runs inside the transaction that records the inbox entry."""
    payload = _ingested(event)
    await store_imported_predictions(conn, payload)
    await flywheel.record_item(conn, payload.item)


async def on_items_ingested(conn: asyncpg.Connection, events: Sequence[Event]) -> None:
    """Batch handler of a run of item.ingested (one transaction, as :func:`on_item_ingested` on each in turn): the
    items kept for the model in two statements whatever the run's length; imported predictions (rare) per event,
    each in its event's span. A bad event fails the run, which the consumer then splits down to that event."""
    payloads = [_ingested(event) for event in events]
    for event, payload in zip(events, payloads, strict=True):
        if payload.predictions:
            with consume_span(event):
                await store_imported_predictions(conn, payload)
    await flywheel.record_items(conn, [payload.item for payload in payloads])


async def store_imported_predictions(conn: asyncpg.Connection,
                                     msg: events_pb2.ItemIngested) -> list[events_pb2.Prediction]:
    """Store the event's predictions; emit item.preannotated with those newly stored. Returns them.

    A prediction already stored for (item, model version) is kept as it is and not announced again, so a
    re-ingested item changes nothing. Predictions that cannot be stored (no model version, a score that is
    not finite, a result that is not a JSON list) are skipped with a warning; the others are kept.
    """
    if not msg.predictions:
        return []
    item = msg.item
    try:
        item_uuid = uuid.UUID(item.item_id)
    except ValueError:
        raise PermanentError(f"item.ingested: item.item_id {item.item_id!r} is not a UUID") from None
    stored: list[events_pb2.Prediction] = []
    for index, prediction in enumerate(msg.predictions):
        why = problem(prediction.model_version, prediction.score, prediction.result_json)
        if why is not None:
            log.warning("prediction skipped", extra={"item_id": item.item_id, "index": index, "reason": why})
            continue
        inserted = await conn.fetchval(
            """
            INSERT INTO predictions (item_id, model_version, project_id, score, result_json)
            VALUES ($1, $2, $3, $4, $5::jsonb)
            ON CONFLICT (item_id, model_version) DO NOTHING
            RETURNING true
            """,
            item_uuid, prediction.model_version, item.project_id, prediction.score, prediction.result_json,
        )
        if inserted:
            stored.append(prediction)
    if stored:
        await outbox.add_event(
            conn, topics.ITEM_PREANNOTATED, key=item.item_id, producer=PRODUCER,
            payload=events_pb2.ItemPreannotated(item_id=item.item_id, project_id=item.project_id, predictions=stored),
        )
    log.info("predictions stored", extra={"item_id": item.item_id, "stored": len(stored),
                                          "received": len(msg.predictions)})
    return stored
