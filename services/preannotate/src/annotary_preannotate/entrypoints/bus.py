"""Bus subscriptions of the consumer group annotary-preannotate."""

from __future__ import annotations

from functools import partial

from annotary_common import topics
from annotary_common.bus import Consumer, Handler
from annotary_preannotate.service_layer import flywheel, predictions


def handlers(config: flywheel.FlywheelConfig) -> dict[str, Handler]:
    """The group's handler per topic."""
    return {topics.ITEM_INGESTED: predictions.on_item_ingested,
            topics.ANNOTATION_ACCEPTED: partial(flywheel.on_annotation_accepted, config=config)}


def subscribe(consumer: Consumer, config: flywheel.FlywheelConfig) -> None:
    for topic, handler in handlers(config).items():
        # an import's items in runs, one transaction per run, set-based (the handler writes only rows of its own)
        consumer.subscribe(topic, handler,
                           batch=predictions.on_items_ingested if topic == topics.ITEM_INGESTED else None)
