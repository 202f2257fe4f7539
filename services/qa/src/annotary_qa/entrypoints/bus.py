"""Bus subscriptions of the consumer group annotary-qa."""

from __future__ import annotations

from functools import partial

from annotary_common import topics
from annotary_common.bus import Consumer, one_by_one
from annotary_qa.service_layer import decisions


def subscribe(consumer: Consumer, *, min_gold_for_pause: int = decisions.MIN_GOLD_FOR_PAUSE) -> None:
    handler = partial(decisions.on_task_submitted, min_gold_for_pause=min_gold_for_pause)
    # In runs, one transaction per run when submissions queue up (QA decides one item after another: its round trips
    # per event bounded the rate at which accepted annotations came out). The handler writes qa's own rows; the
    # request paths that lock them (reviews, resuming an annotator) lock one item's or one annotator's rows.
    consumer.subscribe(topics.TASK_SUBMITTED, handler, batch=one_by_one(handler))
