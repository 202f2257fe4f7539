"""Issue 10: back-pressure when a consumer falls behind.

A flood of events staged in the outbox goes through the relay, the real broker and a slow consumer. The
relay never has more than one batch of sends outstanding; the consumer never has more than one message in
its handler and prefetches a bounded number of bytes, so the backlog waits on the broker (lag), not in
memory; and every event is applied exactly once.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from annotary.events.v1 import events_pb2
from annotary_common.bus import Consumer, ensure_topics, make_broker, make_producer
from annotary_common.events import Event
from annotary_common.outbox import OutboxRelay, add_event
from annotary_common.settings import CommonSettings
from annotary_common.topics import ITEM_INGESTED, dead_letter_topic

FLOOD = 600
BATCH = 100


class CountingProducer:
    """The real producer, counting the sends whose acknowledgement is still outstanding."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer
        self.outstanding = 0
        self.peak = 0

    async def send(self, topic: str, **kw: Any) -> asyncio.Future[Any]:
        future = await self._producer.send(topic, **kw)
        self.outstanding += 1
        self.peak = max(self.peak, self.outstanding)

        def done(_: asyncio.Future[Any]) -> None:
            self.outstanding -= 1

        future.add_done_callback(done)
        return future

    async def send_and_wait(self, topic: str, **kw: Any) -> Any:
        return await self._producer.send_and_wait(topic, **kw)


async def test_a_flood_stays_bounded_in_flight_and_is_applied_exactly_once(
    settings: CommonSettings, pool: asyncpg.Pool, eventually: Any
) -> None:
    await ensure_topics(settings, [dead_letter_topic("flood")])
    async with pool.acquire() as conn, conn.transaction():
        for i in range(FLOOD):
            item = events_pb2.ItemSnapshot(item_id=f"item-{i}", project_id="p", text="x" * 200)
            await add_event(conn, ITEM_INGESTED, f"item-{i}", events_pb2.ItemIngested(item=item), "test")

    producer = make_producer(settings, "test")
    await producer.start()
    counting = CountingProducer(producer)
    relay = OutboxRelay(pool, counting, "bustest", batch_size=BATCH)  # type: ignore[arg-type]

    handling = 0
    peak_handling = 0

    async def slow_handler(conn: asyncpg.Connection, event: Event) -> None:
        nonlocal handling, peak_handling
        handling += 1
        peak_handling = max(peak_handling, handling)
        try:
            await asyncio.sleep(0.001)  # a consumer slower than the relay
            await conn.execute(
                "INSERT INTO applied (event_id, item_id) VALUES ($1, $2)",
                uuid.UUID(event.event_id),
                event.payload.item.item_id,  # type: ignore[attr-defined]
            )
        finally:
            handling -= 1

    broker = make_broker(settings, "test")
    consumer = Consumer(
        broker=broker,
        pool=pool,
        producer=producer,
        settings=settings,
        group_id="flood",
        fetch_max_bytes=64 << 10,
        partition_fetch_bytes=16 << 10,
    )
    consumer.subscribe(ITEM_INGESTED, slow_handler)
    consumer.register()
    await broker.start()
    lag_seen = 0
    try:
        published = 0
        while (sent := await relay.publish_batch()) > 0:  # the relay as fast as it goes
            published += sent
            assert counting.outstanding == 0  # each batch acknowledged before the next is read
        assert published == FLOOD

        async def drained() -> bool:
            nonlocal lag_seen
            done = int(await pool.fetchval("SELECT count(*) FROM applied"))
            lag_seen = max(lag_seen, FLOOD - done)
            return done >= FLOOD

        await eventually(drained, "the flood to be applied", timeout=120.0)
        await asyncio.sleep(0.5)  # nothing more arrives
    finally:
        await broker.stop()
        await producer.stop()

    assert counting.peak <= BATCH, counting.peak
    assert peak_handling == 1 and consumer.peak_in_flight == 1 and consumer.in_flight == 0
    assert lag_seen > FLOOD // 2  # the consumer did fall behind: the backlog waited on the broker
    rows = await pool.fetchrow("SELECT count(*) AS n, count(DISTINCT event_id) AS distinct_ids FROM applied")
    assert rows["n"] == FLOOD and rows["distinct_ids"] == FLOOD  # every event exactly once
    assert consumer.dead_lettered == 0
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
