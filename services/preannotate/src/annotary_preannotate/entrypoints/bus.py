"""Bus subscriptions of the consumer group annotary-preannotate."""

from __future__ import annotations

from annotary_common import topics
from annotary_common.bus import Consumer
from annotary_preannotate.service_layer import predictions


def subscribe(consumer: Consumer) -> None:
    consumer.subscribe(topics.ITEM_INGESTED, predictions.on_item_ingested)
