"""Bus handlers that only feed webhooks: events a user subscribes to besides ``annotation.accepted`` and
``export.completed``. Each runs in the consumer's inbox transaction, so its deliveries are queued exactly once.

- ``annotation.rejected``: an item sent back with the reviewer's feedback;
- ``review.required``: an item waits for adjudication (agreement below the threshold, or sampled for review);
- ``model.trained``: the flywheel trained a candidate model (promoted or not);
- ``annotator.paused``: an annotator was paused (quality) or resumed.

(``export.failed`` is queued by the export build itself, beside ``export.completed``.)
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
from google.protobuf.message import Message

from annotary.events.v1 import events_pb2
from annotary_common import topics
from annotary_common.bus import PermanentError
from annotary_common.events import Event
from annotary_export.service_layer import webhooks


def _project(value: str, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise PermanentError(f"{field} must be a UUID, got {value!r}") from None


def _payload(event: Event, kind: type[Message]) -> Any:
    if not isinstance(event.payload, kind):
        raise PermanentError(f"{event.envelope.type}: expected {kind.__name__}, got {type(event.payload).__name__}")
    return event.payload


def _result(text: str) -> Any:
    try:
        return json.loads(text) if text else None
    except json.JSONDecodeError:
        return None


def _item(snapshot: events_pb2.ItemSnapshot) -> dict[str, Any]:
    return {"item_id": snapshot.item_id, "external_id": snapshot.external_id, "modality": snapshot.modality}


async def on_annotation_rejected(conn: asyncpg.Connection, event: Event) -> None:
    msg: events_pb2.AnnotationRejected = _payload(event, events_pb2.AnnotationRejected)
    await webhooks.fan_out(conn, topics.ANNOTATION_REJECTED, event.envelope.event_id,
                           _project(msg.item.project_id, "item.project_id"),
                           {**_item(msg.item), "reason": msg.reason, "reviewer_id": msg.reviewer_id,
                            "round": msg.round})


async def on_review_required(conn: asyncpg.Connection, event: Event) -> None:
    msg: events_pb2.ReviewRequired = _payload(event, events_pb2.ReviewRequired)
    await webhooks.fan_out(conn, topics.REVIEW_REQUIRED, event.envelope.event_id,
                           _project(msg.item.project_id, "item.project_id"),
                           {**_item(msg.item), "reason": msg.reason, "agreement": msg.agreement, "round": msg.round,
                            "submissions": [{"annotator_id": s.annotator_id, "result": _result(s.result_json)}
                                            for s in msg.submissions]})


async def on_model_trained(conn: asyncpg.Connection, event: Event) -> None:
    msg: events_pb2.ModelTrained = _payload(event, events_pb2.ModelTrained)
    await webhooks.fan_out(conn, topics.MODEL_TRAINED, event.envelope.event_id,
                           _project(msg.project_id, "project_id"),
                           {"model_version": msg.model_version, "plugin": msg.plugin, "promoted": msg.promoted,
                            "metric": msg.metric, "candidate_value": msg.candidate_value,
                            "incumbent_value": msg.incumbent_value, "incumbent_version": msg.incumbent_version,
                            "training_items": msg.training_items, "heldout_items": msg.heldout_items,
                            "metrics": _result(msg.metrics_json)})


async def on_annotator_paused(conn: asyncpg.Connection, event: Event) -> None:
    msg: events_pb2.AnnotatorPaused = _payload(event, events_pb2.AnnotatorPaused)
    await webhooks.fan_out(conn, topics.ANNOTATOR_PAUSED, event.envelope.event_id,
                           _project(msg.project_id, "project_id"),
                           {"annotator_id": msg.annotator_id, "paused": msg.paused, "reason": msg.reason,
                            "actor": msg.actor})


HANDLERS = {
    topics.ANNOTATION_REJECTED: on_annotation_rejected,
    topics.REVIEW_REQUIRED: on_review_required,
    topics.MODEL_TRAINED: on_model_trained,
    topics.ANNOTATOR_PAUSED: on_annotator_paused,
}
