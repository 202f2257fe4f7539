"""Transactional outbox: events commit with the state change; a relay publishes them.

``add_event`` runs inside the caller's transaction. The relay (one per schema, held by an
advisory lock) publishes unpublished rows in id order and marks them; a crash between publish
and mark re-publishes with the same event id, which consumers drop through their inbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

import asyncpg
from aiokafka import AIOKafkaProducer
from google.protobuf.message import Message
from prometheus_client import Counter

from annotary_common.events import build_envelope

log = logging.getLogger(__name__)
PUBLISHED = Counter("annotary_outbox_published_total", "Outbox events published to the bus", ["schema"])


async def add_event(conn: asyncpg.Connection, topic: str, key: str, payload: Message, producer: str) -> str:
    """Stage an event in the outbox within the current transaction; returns its event id."""
    env = build_envelope(topic, key, payload, producer)
    await conn.execute(
        "INSERT INTO outbox (event_id, topic, key, envelope) VALUES ($1, $2, $3, $4)",
        uuid.UUID(env.event_id),
        topic,
        key,
        env.SerializeToString(),
    )
    await conn.execute("SELECT pg_notify(current_schema() || '_outbox', '')")
    return env.event_id


class OutboxRelay:
    """Publishes a schema's outbox to Kafka; run exactly one active relay per schema."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        schema: str,
        *,
        batch_size: int = 500,
        poll_interval_s: float = 0.5,
        retention_s: float = 3600.0,
    ) -> None:
        self._pool = pool
        self._producer = producer
        self._schema = schema
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._retention_s = retention_s
        self._wake = asyncio.Event()
        self.published = 0

    async def run(self) -> None:
        lock_conn: asyncpg.Connection = await self._pool.acquire()
        try:
            while not await lock_conn.fetchval(  # noqa: ASYNC110 - the lock is polled, not signalled
                "SELECT pg_try_advisory_lock(hashtext($1))", f"annotary-relay-{self._schema}"
            ):
                await asyncio.sleep(1.0)  # another replica holds the lock; poll for it
            await lock_conn.add_listener(f"{self._schema}_outbox", self._on_notify)
            cleanup_at = 0.0
            loop = asyncio.get_running_loop()
            while True:
                sent = await self.publish_batch()
                if loop.time() >= cleanup_at:
                    await self._cleanup()
                    cleanup_at = loop.time() + 60.0
                if sent < self._batch_size:
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self._poll_interval_s)
        finally:
            with contextlib.suppress(Exception):
                await lock_conn.remove_listener(f"{self._schema}_outbox", self._on_notify)
                await lock_conn.execute("SELECT pg_advisory_unlock_all()")
            await self._pool.release(lock_conn)

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def publish_batch(self) -> int:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT id, topic, key, envelope FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1",
                self._batch_size,
            )
            if not rows:
                return 0
            futures = [
                await self._producer.send(row["topic"], value=bytes(row["envelope"]), key=row["key"].encode())
                for row in rows
            ]
            await asyncio.gather(*futures)
            await conn.execute(
                "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])", [r["id"] for r in rows]
            )
        self.published += len(rows)
        PUBLISHED.labels(self._schema).inc(len(rows))
        return len(rows)

    async def _cleanup(self) -> None:
        async with self._pool.acquire() as conn:
            await conn.execute(
                "DELETE FROM outbox WHERE published_at < now() - make_interval(secs => $1)", self._retention_s
            )
