"""A consumer group with a batch handler (issue 3: one transaction per run of events instead of one per event), on the
real broker and Postgres: runs are applied together with their inbox rows and position, a re-published event in a
run is applied once, and a run holding a poison message or undecodable bytes falls back to one event at a time, so
only the bad ones are dead-lettered and the good ones are applied exactly once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from annotary_common.bus import Consumer, ensure_topics, make_broker, make_producer, read_records
from annotary_common.events import Event
from annotary_common.settings import CommonSettings
from annotary_common.topics import ITEM_INGESTED, dead_letter_topic

from .test_bus_poison import GROUP, dead_letters, ingested, record, running


async def test_runs_are_applied_together_and_bad_messages_alone(
    settings: CommonSettings, pool: asyncpg.Pool, eventually: Any
) -> None:
    await ensure_topics(settings, [dead_letter_topic(GROUP)])
    one_calls: list[str] = []
    batch_sizes: list[int] = []

    async def handler(conn: asyncpg.Connection, event: Event) -> None:
        item_id = event.payload.item.item_id  # type: ignore[attr-defined]
        one_calls.append(item_id)
        await record(conn, event, item_id)
        if item_id == "poison":
            raise ValueError("boom: item 'poison' cannot be handled")

    async def batch(conn: asyncpg.Connection, events: Sequence[Event]) -> None:
        batch_sizes.append(len(events))
        for event in events:
            item_id = event.payload.item.item_id  # type: ignore[attr-defined]
            await record(conn, event, item_id)
            if item_id == "poison":
                raise ValueError("boom: item 'poison' cannot be handled")

    good = [f"good-{i}" for i in range(80)]
    values = [ingested(g) for g in good]
    values.insert(40, values[39])  # a re-publication of good-39, next to the first
    values.insert(20, ingested("poison"))
    values.insert(60, b"\x00\xffnot protobuf")
    producer = make_producer(settings, "test")
    await producer.start()
    try:
        futures = [await producer.send(ITEM_INGESTED, value, key=b"k", partition=0) for value in values]
        for future in futures:
            await future
        broker = make_broker(settings, "test")
        consumer = Consumer(broker=broker, pool=pool, producer=producer, settings=settings, group_id=GROUP,
                            max_attempts=2, backoff_s=0.01, commit_interval_s=0.05)
        consumer.subscribe(ITEM_INGESTED, handler, batch=batch)
        async with running(consumer, broker):

            async def all_applied() -> bool:
                done = await pool.fetchval("SELECT count(DISTINCT item_id) FROM applied WHERE item_id <> 'poison'")
                return bool(done == len(good))

            await eventually(all_applied, "every good event")
            letters = await dead_letters(settings.kafka_bootstrap, 2)
            await consumer.close()
    finally:
        await producer.stop()

    rows = await pool.fetch("SELECT item_id, count(*) AS n FROM applied GROUP BY item_id")
    assert {r["item_id"]: r["n"] for r in rows} == {g: 1 for g in good}  # once each, the poison rolled back
    assert consumer.batches >= 2 and max(batch_sizes) > 10, batch_sizes  # runs applied together
    assert one_calls.count("poison") == 2  # halved down to the poison alone, then its retries one by one
    assert len(one_calls) < 10, one_calls  # ... and few others alone
    assert {dict(r.headers)["source_offset"] for r in letters} == {b"20", b"60"}
    assert consumer.dead_lettered == 2
    position = await pool.fetchrow("SELECT next_offset, record_id, first_id FROM consumer_positions"
                                   " WHERE consumer_group = $1", GROUP)
    assert position is not None and position["next_offset"] == len(values)
    served = await read_records(settings.kafka_bootstrap, {(ITEM_INGESTED, 0, 0), (ITEM_INGESTED, 0, len(values) - 1)})
    assert position["first_id"] == served[(ITEM_INGESTED, 0, 0)]  # the log's first record, read in a run
    assert position["record_id"] == served[(ITEM_INGESTED, 0, len(values) - 1)]
    assert await pool.fetchval("SELECT count(*) FROM inbox") == len(good)  # the poison's row rolled back
