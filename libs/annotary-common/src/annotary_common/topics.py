"""Topic names (DESIGN.md "Contracts") and the payload type each carries."""

from __future__ import annotations

from google.protobuf.message import Message

from annotary.events.v1 import events_pb2

ITEM_INGESTED = "item.ingested"
ITEM_PREANNOTATED = "item.preannotated"
ITEM_SCORED = "item.scored"
TASK_SUBMITTED = "task.submitted"
ANNOTATION_ACCEPTED = "annotation.accepted"
ANNOTATION_REJECTED = "annotation.rejected"
REVIEW_REQUIRED = "review.required"
ANNOTATOR_PAUSED = "annotator.paused"
ANNOTATOR_QUALIFIED = "annotator.qualified"
MODEL_TRAINED = "model.trained"
EXPORT_COMPLETED = "export.completed"

PAYLOAD_TYPES: dict[str, type[Message]] = {
    ITEM_INGESTED: events_pb2.ItemIngested,
    ITEM_PREANNOTATED: events_pb2.ItemPreannotated,
    TASK_SUBMITTED: events_pb2.TaskSubmitted,
    ANNOTATION_ACCEPTED: events_pb2.AnnotationAccepted,
    ANNOTATION_REJECTED: events_pb2.AnnotationRejected,
    REVIEW_REQUIRED: events_pb2.ReviewRequired,
    ITEM_SCORED: events_pb2.ItemScored,
    ANNOTATOR_PAUSED: events_pb2.AnnotatorPaused,
    ANNOTATOR_QUALIFIED: events_pb2.AnnotatorQualified,
    EXPORT_COMPLETED: events_pb2.ExportCompleted,
    MODEL_TRAINED: events_pb2.ModelTrained,
}

ALL_TOPICS: tuple[str, ...] = (
    ITEM_INGESTED,
    ITEM_PREANNOTATED,
    ITEM_SCORED,
    TASK_SUBMITTED,
    ANNOTATION_ACCEPTED,
    ANNOTATION_REJECTED,
    REVIEW_REQUIRED,
    ANNOTATOR_PAUSED,
    ANNOTATOR_QUALIFIED,
    MODEL_TRAINED,
    EXPORT_COMPLETED,
)


def dead_letter_topic(group_id: str) -> str:
    """One dead-letter topic per consumer group."""
    return f"dlq.{group_id}"
