"""Bus subscriptions of the consumer group annotary-qa."""

from __future__ import annotations

from annotary_common import topics
from annotary_common.bus import Consumer
from annotary_qa.service_layer import decisions


def subscribe(consumer: Consumer) -> None:
    consumer.subscribe(topics.TASK_SUBMITTED, decisions.on_task_submitted)
