"""The outbox relay across a broker that restarts on empty storage (Tansu on ``memory://``): every event staged
before and after the restart ends up readable on the broker, read from the start by a fresh consumer.

The broker forgets its topics; a client that publishes straight away (its metadata cached) would write into a
topic nobody created, and the creation that follows resets the topic's offsets under what the broker already
acknowledged, so those records are never served. The relay checks its topics before each batch and has them
created first; a loss it still sees (offsets going back) queues everything again, that batch included.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from annotary.events.v1 import events_pb2
from annotary_cli.infra import free_port, start_broker
from annotary_common.bus import ensure_topics, make_producer
from annotary_common.events import parse_event
from annotary_common.outbox import OutboxRelay, add_event
from annotary_common.settings import CommonSettings
from annotary_common.topics import ITEM_INGESTED

SCHEMA = "bustest"  # the schema the pool fixture creates


async def _stage(pool: asyncpg.Pool, start: int, count: int) -> set[str]:
    ids = set()
    async with pool.acquire() as conn, conn.transaction():
        for i in range(start, start + count):
            item = events_pb2.ItemSnapshot(item_id=f"item-{i}", project_id="p", text="x")
            ids.add(await add_event(conn, ITEM_INGESTED, f"item-{i}", events_pb2.ItemIngested(item=item), "test"))
    return ids


async def _on_bus(bootstrap: str) -> set[str]:
    consumer = AIOKafkaConsumer(ITEM_INGESTED, bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    found: set[str] = set()
    try:
        quiet = 0
        while quiet < 4:
            batches = await consumer.getmany(timeout_ms=250)
            quiet = 0 if batches else quiet + 1
            for records in batches.values():
                found.update(parse_event(r.value).event_id for r in records if r.value is not None)
    finally:
        await consumer.stop()
    return found


async def _group_member(bootstrap: str, stop: asyncio.Event) -> None:
    """A consumer group member subscribed by name, as the services' are (its metadata requests may create the
    topic too)."""
    consumer = AIOKafkaConsumer(ITEM_INGESTED, bootstrap_servers=bootstrap, group_id="reset-test",
                                auto_offset_reset="earliest", enable_auto_commit=False, session_timeout_ms=1000,
                                heartbeat_interval_ms=200, rebalance_timeout_ms=500, metadata_max_age_ms=5000)
    await consumer.start()
    try:
        while not stop.is_set():
            if await consumer.getmany(timeout_ms=200):
                with contextlib.suppress(Exception):  # a commit refused across the restart: taken again later
                    await consumer.commit()
    finally:
        await consumer.stop()


@pytest.mark.parametrize("with_group", [False, True], ids=["relay-alone", "with-a-group-member"])
async def test_every_event_is_readable_after_the_broker_restarts_empty(
    tmp_path: Path, pool: asyncpg.Pool, with_group: bool
) -> None:
    port = free_port()
    broker, bootstrap = start_broker(tmp_path, port)
    settings = CommonSettings(kafka_bootstrap=bootstrap, kafka_partitions=4, kafka_fast_rebalance=True)
    await ensure_topics(settings)
    producer = make_producer(settings, "test")
    await producer.start()

    async def recreate() -> None:
        await ensure_topics(settings)

    relay = OutboxRelay(pool, producer, SCHEMA, bootstrap_servers=bootstrap, on_broker_reset=recreate,
                        batch_size=20, poll_interval_s=0.05, probe_interval_s=0.5, settle_s=0.3, retry_s=0.3)
    stop = asyncio.Event()
    tasks: list[asyncio.Task[Any]] = [asyncio.create_task(relay.run())]
    if with_group:
        tasks.append(asyncio.create_task(_group_member(bootstrap, stop)))

    async def published() -> None:
        deadline = time.monotonic() + 60
        while await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"):
            assert time.monotonic() < deadline, "the relay never published its backlog"
            await asyncio.sleep(0.1)

    try:
        staged = await _stage(pool, 0, 200)
        await published()
        for restart in range(2):
            broker.kill()
            broker.stop()
            broker, _ = start_broker(tmp_path, port)
            for batch in range(10):  # publishing goes on while the services notice the broker is new
                staged |= await _stage(pool, 1000 * (restart + 1) + 20 * batch, 20)
                await asyncio.sleep(0.1)
            await published()
        deadline = time.monotonic() + 60
        while True:
            missing = staged - await _on_bus(bootstrap)
            if not missing or time.monotonic() > deadline:
                break
            await asyncio.sleep(1.0)  # a loss the relay saw is being published again
        assert not missing, f"{len(missing)} of {len(staged)} staged events never readable on the broker"
        assert relay.replayed > 0  # the loss was seen and everything published again
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 30)
        await producer.stop()
        broker.stop()


async def test_read_back_counts_records_the_broker_does_not_serve(
    settings: CommonSettings, pool: asyncpg.Pool
) -> None:
    """The check the relay runs after a sign of trouble: records at the acknowledged offsets, byte for byte."""
    await ensure_topics(settings)
    producer = make_producer(settings, "test")
    await producer.start()
    relay = OutboxRelay(pool, producer, SCHEMA, bootstrap_servers=settings.kafka_bootstrap, probe_interval_s=0.5)
    try:
        bodies = [f"event-{i}".encode() for i in range(3)]
        metas = [await producer.send_and_wait(ITEM_INGESTED, value=body, key=b"k", partition=0) for body in bodies]
        rows = [{"envelope": body} for body in bodies]
        assert await asyncio.wait_for(relay._unserved(rows, metas), 30) == 0  # type: ignore[arg-type]
        shifted = [md._replace(offset=md.offset + 1) for md in metas]  # what a broker that reset its offsets gives
        assert await asyncio.wait_for(relay._unserved(rows, shifted), 30) == 3  # type: ignore[arg-type]
        beyond = [md._replace(offset=md.offset + 100) for md in metas]  # acknowledged, never stored
        assert await asyncio.wait_for(relay._unserved(rows, beyond), 30) == 3  # type: ignore[arg-type]
    finally:
        await asyncio.wait_for(producer.stop(), 30)


async def test_a_producer_routing_by_a_partition_the_topic_no_longer_has_is_set_right(
    bootstrap: str, pool: asyncpg.Pool
) -> None:
    """A broker restarted on empty storage, the topic created again with fewer partitions than its previous life
    (Tansu auto-creates 4, the services create ``kafka_partitions``): a producer still holding the old metadata
    writes to a partition that no longer exists, Tansu acknowledges and never serves it. The relay's read-back sees
    the loss; it must also refresh the producer's metadata, or publishing again loses the same records again until
    the next periodic refresh (5 minutes at the client's default, which this producer keeps)."""
    settings = CommonSettings(kafka_bootstrap=bootstrap, kafka_partitions=3, kafka_fast_rebalance=True)
    await ensure_topics(settings)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    assert await producer.partitions_for(ITEM_INGESTED) == {0, 1, 2}
    cluster = producer.client.cluster  # the previous life's layout: a fourth partition
    last = cluster._partitions[ITEM_INGESTED][2]
    cluster._partitions[ITEM_INGESTED][3] = last._replace(partition=3)
    cluster._broker_partitions[last.leader].add(TopicPartition(ITEM_INGESTED, 3))
    assert producer.client.cluster.partitions_for_topic(ITEM_INGESTED) == {0, 1, 2, 3}

    async def recreate() -> None:
        await ensure_topics(settings)

    relay = OutboxRelay(pool, producer, SCHEMA, bootstrap_servers=bootstrap, on_broker_reset=recreate,
                        batch_size=50, poll_interval_s=0.05, probe_interval_s=0.5, settle_s=0.3, retry_s=0.3)
    task = asyncio.create_task(relay.run())
    try:
        staged = await _stage(pool, 0, 40)
        deadline = time.monotonic() + 30
        while True:
            missing = staged - await _on_bus(bootstrap)
            if not missing or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        assert not missing, f"{len(missing)} of {len(staged)} events never readable on the broker"
        assert relay.replayed > 0  # the unserved records were seen
        assert producer.client.cluster.partitions_for_topic(ITEM_INGESTED) == {0, 1, 2}
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await producer.stop()
