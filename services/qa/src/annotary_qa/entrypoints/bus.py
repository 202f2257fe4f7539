"""Bus subscriptions of the consumer group annotary-qa."""

from __future__ import annotations

from functools import partial

from annotary_common import topics
from annotary_common.bus import Consumer
from annotary_qa.service_layer import decisions


def subscribe(consumer: Consumer, *, min_gold_for_pause: int = decisions.MIN_GOLD_FOR_PAUSE) -> None:
    consumer.subscribe(topics.TASK_SUBMITTED,
                       partial(decisions.on_task_submitted, min_gold_for_pause=min_gold_for_pause))
