"""Where a consumer group resumes, on the real broker and Postgres (issue 10).

A broker that restarts on empty storage (Tansu on ``memory://``) starts its logs again at offset 0 and accepts the
commit a member sends before it notices the restart: the group's committed offset then points past records nobody
read (the chaos run lost 19 accepted annotations that way: orchestrator and export resumed past them). The group
keeps its own position in Postgres with the record read last, and resumes there only while the broker serves that
record at that offset; otherwise it reads the partition from the start, and the inbox drops what it applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from annotary.events.v1 import events_pb2
from annotary_cli.infra import free_port, start_broker
from annotary_common.bus import Consumer, ensure_topics, make_broker, make_producer, read_records
from annotary_common.events import Event, build_envelope
from annotary_common.settings import CommonSettings
from annotary_common.topics import ITEM_INGESTED

GROUP = "positions"


def ingested(item_id: str) -> bytes:
    payload = events_pb2.ItemIngested(item=events_pb2.ItemSnapshot(item_id=item_id, project_id="p"))
    return build_envelope(ITEM_INGESTED, item_id, payload, "test").SerializeToString()


async def publish(settings: CommonSettings, names: list[str]) -> None:
    await publish_raw(settings, [ingested(name) for name in names])


async def publish_raw(settings: CommonSettings, records: list[bytes]) -> None:
    """Publish in order as the outbox relay does: all sent, then awaited, so the broker stores multi-record batches
    (Tansu reports a log's end as the first offset of its last batch: the last records lie past that "end")."""
    producer = make_producer(settings, "test")
    await producer.start()
    try:
        futures = [await producer.send(ITEM_INGESTED, record, key=b"k", partition=0) for record in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def consume_until(settings: CommonSettings, pool: asyncpg.Pool, eventually: Any, count: int) -> Consumer:
    """Run the group until ``applied`` holds ``count`` rows; returns the stopped consumer (for its counters). Closing
    it first, as the service runtime does before the broker stops, commits the handled offsets."""
    async with group_member(settings, pool) as consumer:
        await applied(pool, eventually, count)
    return consumer


async def committed(settings: CommonSettings) -> int | None:
    reader = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=GROUP, enable_auto_commit=False)
    await reader.start()
    try:
        value: int | None = await reader.committed(TopicPartition(ITEM_INGESTED, 0))
        return value
    finally:
        await reader.stop()


async def stale_commit(settings: CommonSettings, offset: int) -> None:
    """What a member that has not noticed the restart does: commit its old position to the new broker."""
    member = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=GROUP, enable_auto_commit=False)
    await member.start()
    try:
        tp = TopicPartition(ITEM_INGESTED, 0)
        member.assign([tp])
        await member.commit({tp: offset})
    finally:
        await member.stop()


async def test_a_group_resumes_at_its_saved_position(
    settings: CommonSettings, pool: asyncpg.Pool, eventually: Any
) -> None:
    await ensure_topics(settings)
    await publish(settings, [f"a{i}" for i in range(12)])
    first = await consume_until(settings, pool, eventually, 12)
    assert first.replayed_partitions == 0
    row = await pool.fetchrow("SELECT next_offset, record_id, first_id FROM consumer_positions"
                              " WHERE consumer_group = $1 AND topic = $2 AND partition = 0", GROUP, ITEM_INGESTED)
    assert row is not None and row["next_offset"] == 12
    served = await read_records(settings.kafka_bootstrap, {(ITEM_INGESTED, 0, 11), (ITEM_INGESTED, 0, 0),
                                                           (ITEM_INGESTED, 0, 99)})
    assert served == {(ITEM_INGESTED, 0, 11): row["record_id"], (ITEM_INGESTED, 0, 0): row["first_id"]}

    await publish(settings, [f"b{i}" for i in range(5)])
    second = await consume_until(settings, pool, eventually, 17)
    assert second.replayed_partitions == 0  # the saved record is served where it was: no replay
    inbox = await pool.fetchval("SELECT count(*) FROM inbox")
    assert inbox == 17
    assert await pool.fetchval("SELECT next_offset FROM consumer_positions WHERE consumer_group = $1", GROUP) == 17


@pytest.mark.parametrize("after_restart", [8, 40], ids=["log-shorter-than-position", "log-longer-than-position"])
async def test_a_stale_commit_on_a_restarted_broker_skips_nothing(
    tmp_path: Path, pool: asyncpg.Pool, eventually: Any, after_restart: int
) -> None:
    port = free_port()
    broker, bootstrap = start_broker(tmp_path / "first", port)
    settings = CommonSettings(kafka_bootstrap=bootstrap, kafka_partitions=1, kafka_fast_rebalance=True)
    try:
        await ensure_topics(settings)
        await publish(settings, [f"old{i}" for i in range(30)])
        await consume_until(settings, pool, eventually, 30)
        assert await committed(settings) == 30
    finally:
        broker.kill()
    broker, _ = start_broker(tmp_path / "second", port)  # empty storage: the log starts again at 0
    try:
        await ensure_topics(settings)
        await stale_commit(settings, 30)
        assert await committed(settings) == 30  # the broker took it: the group's offset points past the new log
        new = [f"new{i}" for i in range(after_restart)]
        await publish(settings, new)
        consumer = await consume_until(settings, pool, eventually, 30 + after_restart)
        assert consumer.replayed_partitions == 1
        applied = {r["item_id"] for r in await pool.fetch("SELECT item_id FROM applied")}
        assert set(new) <= applied
        assert await pool.fetchval("SELECT count(*) FROM applied") == 30 + after_restart  # each once
    finally:
        broker.kill()


async def test_a_log_replaced_under_the_same_last_record_is_caught_by_its_first_record(
    tmp_path: Path, pool: asyncpg.Pool, eventually: Any
) -> None:
    """The record read last can be served at its offset by a new log too (the same event published again, where a
    member that had not noticed the restart read the new log from its stale position): the record at offset 0 is
    checked as well, and a different one there means another log."""
    port = free_port()
    broker, bootstrap = start_broker(tmp_path / "first", port)
    settings = CommonSettings(kafka_bootstrap=bootstrap, kafka_partitions=1, kafka_fast_rebalance=True)
    old = [ingested(f"old{i}") for i in range(10)]
    try:
        await ensure_topics(settings)
        await publish_raw(settings, old)
        await consume_until(settings, pool, eventually, 10)
    finally:
        broker.kill()
    broker, _ = start_broker(tmp_path / "second", port)
    try:
        await ensure_topics(settings)
        # the new log: a new event at offset 0, then the old ones again from offset 1: offset 9 holds what the group
        # read last, offset 0 does not hold what it read first
        await publish_raw(settings, [ingested("new0"), *old[1:]])
        consumer = await consume_until(settings, pool, eventually, 11)
        assert consumer.replayed_partitions == 1
        assert "new0" in {r["item_id"] for r in await pool.fetch("SELECT item_id FROM applied")}
    finally:
        broker.kill()


async def test_a_group_that_ran_before_positions_were_kept_resumes_at_its_committed_offset(
    settings: CommonSettings, pool: asyncpg.Pool, eventually: Any
) -> None:
    """An upgrade: the group has a committed offset on a live broker and no saved position yet; it carries on from the
    committed offset instead of reading every topic again from the start."""
    await ensure_topics(settings)
    await publish(settings, [f"before{i}" for i in range(10)])
    await stale_commit(settings, 10)  # what the group committed while it ran without saved positions
    await publish(settings, [f"after{i}" for i in range(3)])
    consumer = await consume_until(settings, pool, eventually, 3)
    assert consumer.replayed_partitions == 0
    assert {r["item_id"] for r in await pool.fetch("SELECT item_id FROM applied")} == {f"after{i}" for i in range(3)}
    assert await pool.fetchval("SELECT next_offset FROM consumer_positions WHERE consumer_group = $1", GROUP) == 13


async def test_the_broker_offset_is_committed_for_handled_messages_only_and_in_few_requests(
    settings: CommonSettings, pool: asyncpg.Pool, eventually: Any
) -> None:
    """Handled offsets are committed together (one request per interval, not per message), and never past a message
    still being handled: a group that starts without a saved position takes the broker's offset."""
    await ensure_topics(settings)
    await publish(settings, [f"m{i}" for i in range(20)])
    blocked, release = asyncio.Event(), asyncio.Event()

    async def handler(conn: asyncpg.Connection, event: Event) -> None:
        name = event.payload.item.item_id  # type: ignore[attr-defined]
        if name == "m10":
            blocked.set()
            await release.wait()
        await conn.execute("INSERT INTO applied (event_id, item_id) VALUES ($1, $2)", uuid.UUID(event.event_id), name)

    broker = make_broker(settings, "test")
    producer = make_producer(settings, "test-dlq")
    await producer.start()
    consumer = Consumer(broker=broker, pool=pool, producer=producer, settings=settings, group_id=GROUP,
                        commit_interval_s=0.05)
    consumer.subscribe(ITEM_INGESTED, handler)
    consumer.register()
    await broker.start()
    try:
        await asyncio.wait_for(blocked.wait(), 30)
        await asyncio.sleep(0.5)  # ten intervals while m10 is in the handler
        assert await committed(settings) == 10  # m0-m9 handled; m10 taken off the bus but not handled

        release.set()

        async def done() -> bool:
            return int(await pool.fetchval("SELECT count(*) FROM applied")) >= 20

        await eventually(done, "20 events applied")
    finally:
        release.set()
        await consumer.close()
        await broker.stop()
        await producer.stop()
    assert await committed(settings) == 20
    assert 1 <= consumer.commits < 10, consumer.commits


async def test_a_member_running_through_a_broker_restart_skips_nothing_of_the_new_log(
    tmp_path: Path, pool: asyncpg.Pool, eventually: Any
) -> None:
    """A member that keeps running while the broker restarts on empty storage must not read the new log from its old
    in-memory position: a new log longer than that position would have its head skipped (the member saves positions
    of the new log before its group notices the restart, and the check on the next assignment then agrees)."""
    port = free_port()
    broker, bootstrap = start_broker(tmp_path / "first", port)
    settings = CommonSettings(kafka_bootstrap=bootstrap, kafka_fast_rebalance=False)
    try:
        await ensure_topics(settings)
        await publish(settings, [f"old{i}" for i in range(10)])
        async with group_member(settings, pool):
            await applied(pool, eventually, 10)
            broker.kill()
            broker, _ = start_broker(tmp_path / "second", port)  # empty storage: the log starts again at 0
            await ensure_topics(settings)
            new = [f"new{i}" for i in range(25)]
            await publish(settings, new)  # at once: the member's old position (10) lies inside the new log
            await applied(pool, eventually, 35)
        names = [r["item_id"] for r in await pool.fetch("SELECT item_id FROM applied")]
        assert sorted(names) == sorted([f"old{i}" for i in range(10)] + new)
    finally:
        broker.kill()


async def _apply(conn: asyncpg.Connection, event: Event) -> None:
    await conn.execute("INSERT INTO applied (event_id, item_id) VALUES ($1, $2)", uuid.UUID(event.event_id),
                       event.payload.item.item_id)  # type: ignore[attr-defined]


async def applied(pool: asyncpg.Pool, eventually: Any, count: int) -> None:
    async def done() -> bool:
        return int(await pool.fetchval("SELECT count(*) FROM applied")) >= count

    await eventually(done, f"{count} events applied")


@contextlib.asynccontextmanager
async def group_member(settings: CommonSettings, pool: asyncpg.Pool) -> AsyncIterator[Consumer]:
    """One member of the group, running, that writes each ``item.ingested`` it applies to ``applied``."""
    kafka = make_broker(settings, "test")
    producer = make_producer(settings, "test-dlq")
    consumer = Consumer(broker=kafka, pool=pool, producer=producer, settings=settings, group_id=GROUP)
    consumer.subscribe(ITEM_INGESTED, _apply)
    consumer.register()
    try:
        await producer.start()
        await kafka.start()
        yield consumer
    finally:
        await consumer.close()
        await kafka.stop()
        await producer.stop()


async def publish_keyed(settings: CommonSettings, names: list[str]) -> None:
    """Publish keyed by item, as the relay does: the records spread over all of the topic's partitions."""
    producer = make_producer(settings, "test")
    await producer.start()
    try:
        futures = [await producer.send(ITEM_INGESTED, ingested(name), key=name.encode()) for name in names]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def test_the_services_create_topics_with_the_partitions_the_embedded_broker_auto_creates(
    tmp_path: Path
) -> None:
    """A client's metadata request re-creates a lost topic with the broker's own partition count; the services must
    create theirs with the same count, or the topic's partitions change under a running group (see below)."""
    broker, bootstrap = start_broker(tmp_path)
    try:
        producer = make_producer(CommonSettings(kafka_bootstrap=bootstrap), "test")
        await producer.start()
        try:
            await producer.send_and_wait("auto.created", b"x")
            auto = producer.client.cluster.partitions_for_topic("auto.created")
        finally:
            await producer.stop()
        assert auto is not None and len(auto) == CommonSettings().kafka_partitions
    finally:
        broker.kill()


async def read_partitions(bootstrap: str) -> list[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [described] = await admin.describe_topics([ITEM_INGESTED])
        return sorted(p["partition"] for p in described["partitions"])
    finally:
        await admin.close()


@pytest.mark.parametrize("members", [1, 2])
async def test_a_group_reads_the_partitions_a_topic_gains_under_it(
    tmp_path: Path, pool: asyncpg.Pool, eventually: Any, members: int
) -> None:
    """Where the services' partition count differs from the broker's (here 3 against Tansu's 4): the broker restarts
    on empty storage with the group running and nobody creating the topic; the member rejoins from its cached
    metadata (3 partitions), a metadata refresh re-creates the topic with 4, the leader rejoins for the change and
    Tansu hands back the old 3-partition assignment (3 of 3 runs before the member checked it: none of the 40 new
    records on partition 3 was read). The member sees that it got other partitions than it computed as the leader,
    joins again as a new member, and reads them all. With two members the leader's own share may stay the same
    (round robin: [0, 2] of 3 and of 4) while the other's gains partition 3: the leader sees the assignment changed
    under an unchanged generation."""
    port = free_port()
    broker, bootstrap = start_broker(tmp_path / "first", port)
    settings = CommonSettings(kafka_bootstrap=bootstrap, kafka_fast_rebalance=True, kafka_partitions=3)
    try:
        await ensure_topics(settings)
        async with contextlib.AsyncExitStack() as stack:
            for _ in range(members):
                await stack.enter_async_context(group_member(settings, pool))
            await asyncio.sleep(3.0)  # the group formed on 3 partitions
            broker.kill()
            await asyncio.sleep(0.5)
            broker, _ = start_broker(tmp_path / "second", port)
            await asyncio.sleep(6.0)  # a metadata refresh (every 5 s) re-creates the topic; the group rebalances
            assert await read_partitions(bootstrap) == [0, 1, 2, 3]
            new = [f"new{i}" for i in range(40)]
            await publish_keyed(settings, new)
            await applied(pool, eventually, len(new))
        names = [r["item_id"] for r in await pool.fetch("SELECT item_id FROM applied")]
        assert sorted(names) == sorted(new)
    finally:
        broker.kill()
