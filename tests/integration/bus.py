"""Reading events straight from the broker, as an ML team's consumer would."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer

from annotary_common.events import Event, parse_event


async def read_events(
    bootstrap: str,
    topic: str,
    keep: Callable[[Event], bool],
    *,
    until: Callable[[list[Event]], bool],
    timeout: float = 60.0,
    settle_s: float = 1.0,
) -> list[Event]:
    """Every event on ``topic`` that ``keep`` accepts, from the beginning, read until ``until`` holds
    (then ``settle_s`` longer, to catch anything extra) or the timeout passes."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    events: list[Event] = []
    try:
        deadline = time.monotonic() + timeout
        settle_at: float | None = None
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for record in records:
                    event = parse_event(record.value)
                    if keep(event):
                        events.append(event)
            if settle_at is None and until(events):
                settle_at = time.monotonic() + settle_s
            if settle_at is not None and time.monotonic() >= settle_at:
                break
            await asyncio.sleep(0)
    finally:
        await consumer.stop()
    return events
