"""Issue 10: poison messages go to the dead-letter topic with the reason and never block the partition.

On the real broker and Postgres: garbage bytes, a valid envelope of an unknown type, and an event whose
handler fails every time are followed, on the same partition, by good events. The bad ones land in
``dlq.<group>`` with the reason in headers after bounded retries; the good ones are applied exactly once; a
handler failing on the infrastructure (a connection error) is retried past the bound and never dead-lettered.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from annotary.events.v1 import events_pb2
from annotary_common.bus import Consumer, ensure_topics, make_broker, make_producer
from annotary_common.events import Event, build_envelope
from annotary_common.settings import CommonSettings
from annotary_common.topics import ITEM_INGESTED, dead_letter_topic

GROUP = "bustest"


def ingested(item_id: str) -> bytes:
    payload = events_pb2.ItemIngested(item=events_pb2.ItemSnapshot(item_id=item_id, project_id="p"))
    return build_envelope(ITEM_INGESTED, item_id, payload, "test").SerializeToString()


async def record(conn: asyncpg.Connection, event: Event, item_id: str) -> None:
    await conn.execute("INSERT INTO applied (event_id, item_id) VALUES ($1, $2)", uuid.UUID(event.event_id), item_id)


@contextlib.asynccontextmanager
async def running(consumer: Consumer, broker: Any) -> AsyncIterator[None]:
    consumer.register()
    await broker.start()
    try:
        yield
    finally:
        await broker.stop()


async def dead_letters(bootstrap: str, count: int, timeout: float = 30.0) -> list[Any]:
    """Read ``count`` records from the dead-letter topic (from its start, no group)."""
    reader = AIOKafkaConsumer(dead_letter_topic(GROUP), bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await reader.start()
    records: list[Any] = []
    try:
        async with asyncio.timeout(timeout):
            while len(records) < count:
                batch = await reader.getmany(timeout_ms=200)
                for part in batch.values():
                    records.extend(part)
        extra = await reader.getmany(timeout_ms=500)  # nothing more than expected
        records.extend(r for part in extra.values() for r in part)
    finally:
        await reader.stop()
    return records


async def test_poison_messages_are_dead_lettered_and_never_block_the_partition(
    settings: CommonSettings, pool: asyncpg.Pool, eventually: Any
) -> None:
    await ensure_topics(settings, [dead_letter_topic(GROUP)])
    producer = make_producer(settings, "test")
    await producer.start()
    attempts: dict[str, int] = {}
    connection_failures = 0

    async def handler(conn: asyncpg.Connection, event: Event) -> None:
        nonlocal connection_failures
        item_id = event.payload.item.item_id  # type: ignore[attr-defined]
        attempts[item_id] = attempts.get(item_id, 0) + 1
        await record(conn, event, item_id)
        if item_id == "poison":  # after writing: the failed attempts must leave nothing behind
            raise ValueError("boom: item 'poison' cannot be handled")
        if item_id == "flaky" and connection_failures < 4:  # more failures than max_attempts, all transient
            connection_failures += 1
            raise ConnectionResetError("the database went away")

    broker = make_broker(settings, "test")
    consumer = Consumer(
        broker=broker, pool=pool, producer=producer, settings=settings, group_id=GROUP, max_attempts=3, backoff_s=0.01
    )
    consumer.subscribe(ITEM_INGESTED, handler)
    unknown = build_envelope(ITEM_INGESTED, "u", events_pb2.ItemIngested(), "test")
    unknown.type = "item.teleported"  # a valid envelope whose type no one knows
    good = [f"good-{i}" for i in range(5)]
    bad: list[tuple[bytes, bytes]] = [
        (b"garbage", b"\x00\xffnot protobuf at all\x13\x37" * 3),
        (b"unknown", unknown.SerializeToString()),
        (b"poison", ingested("poison")),
    ]
    sent: list[tuple[bytes, bytes]] = [*bad, (b"flaky", ingested("flaky")), *[(g.encode(), ingested(g)) for g in good]]
    for key, value in sent:  # one partition: the bad ones sit in front of the good ones
        await producer.send_and_wait(ITEM_INGESTED, value=value, key=key, partition=0)
    try:
        async with running(consumer, broker):

            async def all_applied() -> bool:
                done = await pool.fetchval("SELECT count(DISTINCT item_id) FROM applied WHERE item_id <> 'poison'")
                return bool(done == len(good) + 1)

            await eventually(all_applied, "the good events behind the poison ones")
            records = await dead_letters(settings.kafka_bootstrap, len(bad))
    finally:
        await producer.stop()

    rows = await pool.fetch("SELECT item_id, count(*) AS n FROM applied GROUP BY item_id")
    assert {r["item_id"]: r["n"] for r in rows} == {**{g: 1 for g in good}, "flaky": 1}  # exactly once, no poison
    assert attempts["poison"] == 3  # bounded retries
    assert attempts["flaky"] == 5  # transient failures retried past the bound, then applied
    assert consumer.dead_lettered == len(bad)

    by_key = {r.key: r for r in records}
    assert len(records) == len(bad) and set(by_key) == {k for k, _ in bad}
    for key, value in bad:
        letter = by_key[key]
        headers = {name: v.decode() for name, v in letter.headers}
        assert letter.value == value  # the original bytes, to replay after a fix
        assert headers["source_topic"] == ITEM_INGESTED and headers["source_partition"] == "0"
        assert headers["source_offset"] == str(sent.index((key, value)))
        assert headers["consumer_group"] == GROUP
        assert headers["reason"] == f"{headers['error_type']}: {headers['error_message']}"
    assert "not an Envelope" in {n: v.decode() for n, v in by_key[b"garbage"].headers}["error_message"]
    unknown_headers = {n: v.decode() for n, v in by_key[b"unknown"].headers}
    assert unknown_headers["error_type"] == "UndecodableEvent"
    assert "unknown event type 'item.teleported'" in unknown_headers["error_message"]
    poison_headers = {n: v.decode() for n, v in by_key[b"poison"].headers}
    assert poison_headers["error_type"] == "ValueError"
    assert poison_headers["error_message"] == "boom: item 'poison' cannot be handled"
    assert poison_headers["attempts"] == "3" and poison_headers["event_type"] == ITEM_INGESTED
    assert uuid.UUID(poison_headers["event_id"])


async def test_the_group_moves_past_dead_lettered_messages(
    settings: CommonSettings, pool: asyncpg.Pool, eventually: Any
) -> None:
    """After a restart the group resumes after the poison (committed), neither re-reading nor re-dead-lettering."""
    await ensure_topics(settings, [dead_letter_topic(GROUP)])
    producer: AIOKafkaProducer = make_producer(settings, "test")
    await producer.start()

    async def handler(conn: asyncpg.Connection, event: Event) -> None:
        item_id = event.payload.item.item_id  # type: ignore[attr-defined]
        if item_id == "poison":
            raise RuntimeError("always fails")
        await record(conn, event, item_id)

    def new_consumer() -> tuple[Consumer, Any]:
        broker = make_broker(settings, "test")
        consumer = Consumer(
            broker=broker,
            pool=pool,
            producer=producer,
            settings=settings,
            group_id=GROUP,
            max_attempts=2,
            backoff_s=0.01,
        )
        consumer.subscribe(ITEM_INGESTED, handler)
        return consumer, broker

    async def applied(n: int) -> bool:
        return bool(await pool.fetchval("SELECT count(*) FROM applied") == n)

    try:
        for value in (b"junk", ingested("poison"), ingested("a")):
            await producer.send_and_wait(ITEM_INGESTED, value=value, partition=0)
        first, broker = new_consumer()
        async with running(first, broker):
            await eventually(lambda: applied(1), "the first good event")
        await producer.send_and_wait(ITEM_INGESTED, value=ingested("b"), partition=0)
        second, broker = new_consumer()
        async with running(second, broker):
            await eventually(lambda: applied(2), "the event published while the group was down")
            await asyncio.sleep(0.5)
    finally:
        await producer.stop()
    assert first.dead_lettered == 2 and second.dead_lettered == 0
    assert sorted(await pool.fetchval("SELECT array_agg(item_id) FROM applied")) == ["a", "b"]
