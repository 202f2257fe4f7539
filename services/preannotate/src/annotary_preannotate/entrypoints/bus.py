"""Bus subscriptions of the consumer group annotary-preannotate."""

from __future__ import annotations

from functools import partial

from annotary_common import topics
from annotary_common.bus import Consumer
from annotary_preannotate.service_layer import flywheel, predictions


def subscribe(consumer: Consumer, config: flywheel.FlywheelConfig) -> None:
    consumer.subscribe(topics.ITEM_INGESTED, predictions.on_item_ingested)
    consumer.subscribe(topics.ANNOTATION_ACCEPTED, partial(flywheel.on_annotation_accepted, config=config))
