"""Bus subscriptions of the consumer group annotary-orchestrator."""

from __future__ import annotations

from annotary_common import topics
from annotary_common.bus import Consumer
from annotary_orchestrator.service_layer import events

SUBSCRIPTIONS = {
    topics.ITEM_INGESTED: events.on_item_ingested,
    topics.ITEM_PREANNOTATED: events.on_item_preannotated,
    topics.ANNOTATION_ACCEPTED: events.on_annotation_accepted,
    topics.REVIEW_REQUIRED: events.on_review_required,
    topics.ANNOTATION_REJECTED: events.on_annotation_rejected,
    topics.ITEM_SCORED: events.on_item_scored,
    topics.ANNOTATOR_PAUSED: events.on_annotator_paused,
    topics.ANNOTATOR_QUALIFIED: events.on_annotator_qualified,
}


def subscribe(consumer: Consumer) -> None:
    for topic, handler in SUBSCRIPTIONS.items():
        consumer.subscribe(topic, handler)
