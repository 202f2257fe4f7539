"""Bus subscriptions of the consumer group annotary-orchestrator."""

from __future__ import annotations

from annotary_common import topics
from annotary_common.bus import BatchHandler, Consumer, one_by_one
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
# Applied in runs, one transaction per run (an import: thousands of events): these handlers insert new items and
# slots or upsert predictions, rows no lease, submit or pause holds while it waits for another; annotation.accepted
# locks the run's items at once in item id order (as leases do) and no other row. Not item.scored: it updates
# assigned slots too, and a run holding many items' task rows in event order would cross a pause, which locks an
# annotator's tasks in task id order. Not the review topics: a rejection writes the item's new slots.
BATCHES: dict[str, BatchHandler] = {
    topics.ITEM_INGESTED: events.on_items_ingested,
    topics.ITEM_PREANNOTATED: one_by_one(events.on_item_preannotated),
    topics.ANNOTATION_ACCEPTED: events.on_annotations_accepted,
}


def subscribe(consumer: Consumer) -> None:
    for topic, handler in SUBSCRIPTIONS.items():
        consumer.subscribe(topic, handler, batch=BATCHES.get(topic))
