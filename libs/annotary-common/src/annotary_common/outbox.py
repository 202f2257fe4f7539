"""Transactional outbox: events commit with the state change; a relay publishes them.

``add_event`` runs inside the caller's transaction. The relay (one per schema, held by an
advisory lock) publishes unpublished rows in id order and marks them; a crash between publish
and mark re-publishes with the same event id, which consumers drop through their inbox.

A broker that loses data (a Kafka cluster restored from an old state, a broker on ephemeral
storage restarted) is seen by the offsets it acknowledges: the relay keeps, per partition, the
highest offset the broker acknowledged (``outbox_offsets``); offsets only grow, so a new record
at or below it means the log was lost. While idle, the relay also asks the broker for the end of
those partitions (``bootstrap_servers`` given): an end below the first offset of the latest batch
it sent there means the same (not the highest acknowledged: some brokers, Tansu among them, report
the end of a log as the first offset of its last record batch).
The relay then publishes again every row it still holds (the retention window), the batch that
showed the loss included, and starts a new record of offsets; consumers drop what they had through
their inbox. A relay that fails (Postgres or the broker away) starts over after a pause.

Before each batch the relay checks (one metadata request, which never auto-creates) that the batch's
topics exist; a topic missing means the broker lost its metadata: the relay has the topics created
(``on_broker_reset``) and waits ``settle_s`` before it publishes. A broker restarted on empty storage
may accept records for a topic nobody created yet (Tansu does), and a creation that runs while records
arrive resets the topic's offsets under records it acknowledged, so they are never served. So for
``verify_window_s`` after any sign of trouble (the relay starting or starting over, a loss seen, a
topic missing) the relay reads each batch back at the offsets the broker gave it; a record that is not
there, byte for byte, counts as a loss: everything is queued again after ``settle_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import RecordMetadata
from google.protobuf.message import Message

from annotary_common.events import build_envelope
from annotary_common.metrics import OUTBOX_PUBLISHED as PUBLISHED
from annotary_common.telemetry import current_trace_context
from annotary_common.topics import ALL_TOPICS

log = logging.getLogger(__name__)


# The rows and the relay's wake-up in one statement (a data-modifying WITH runs whether or not it is read), in the
# order given (the relay publishes in id order, so a key's events keep theirs).
_ADD_MANY_SQL = """
WITH staged AS (
    INSERT INTO outbox (event_id, topic, key, envelope)
    SELECT e.event_id, e.topic, e.key, e.envelope
    FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bytea[]) WITH ORDINALITY AS e(event_id, topic, key, envelope, n)
    ORDER BY e.n
)
SELECT pg_notify(current_schema() || '_outbox', '')
"""


_MARK_ROWS_SQL = "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])"
# The highest offset a partition acknowledged and the first of its latest batch; offsets only grow.
_SAVE_OFFSETS_SQL = """
INSERT INTO outbox_offsets (topic, partition, last_offset, batch_offset)
SELECT * FROM unnest(${0}::text[], ${1}::int[], ${2}::bigint[], ${3}::bigint[])
ON CONFLICT (topic, partition) DO UPDATE
SET last_offset = GREATEST(outbox_offsets.last_offset, EXCLUDED.last_offset),
    batch_offset = GREATEST(outbox_offsets.batch_offset, EXCLUDED.batch_offset)
"""
# A batch the broker acknowledged: its rows marked published and the offsets saved, one statement (atomic alone).
_MARK_PUBLISHED_SQL = f"WITH published AS ({_MARK_ROWS_SQL}) " + _SAVE_OFFSETS_SQL.format(2, 3, 4, 5)
_SAVE_OFFSETS_ALONE_SQL = _SAVE_OFFSETS_SQL.format(1, 2, 3, 4)


async def add_event(conn: asyncpg.Connection, topic: str, key: str, payload: Message, producer: str) -> str:
    """Stage an event in the outbox within the current transaction; returns its event id."""
    return (await add_events(conn, [(topic, key, payload)], producer))[0]


async def add_events(conn: asyncpg.Connection, events: Sequence[tuple[str, str, Message]], producer: str) -> list[str]:
    """Stage ``(topic, key, payload)`` events in the outbox within the current transaction, in their order, with one
    statement; returns their event ids."""
    if not events:
        return []
    carrier = current_trace_context()  # one context for the whole call: read once
    envelopes = [build_envelope(topic, key, payload, producer, trace_context=carrier) for topic, key, payload in events]
    await conn.execute(
        _ADD_MANY_SQL,
        [uuid.UUID(env.event_id) for env in envelopes],
        [topic for topic, _, _ in events],
        [key for _, key, _ in events],
        [env.SerializeToString() for env in envelopes],
    )
    return [env.event_id for env in envelopes]


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
        retry_s: float = 1.0,
        bootstrap_servers: str | None = None,
        probe_interval_s: float = 2.0,
        settle_s: float = 1.0,
        verify_window_s: float = 30.0,
        on_broker_reset: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._pool = pool
        self._producer = producer
        self._schema = schema
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._retention_s = retention_s
        self._retry_s = retry_s
        self._bootstrap_servers = bootstrap_servers
        self._probe_interval_s = probe_interval_s
        self._settle_s = settle_s
        self._verify_window_s = verify_window_s
        self._verify_until = 0.0  # loop time until which each batch is read back
        self._probe: AIOKafkaConsumer | None = None
        self._on_broker_reset = on_broker_reset
        self._wake = asyncio.Event()
        self._acked: dict[tuple[str, int], int] = {}  # (topic, partition) -> highest offset the broker acknowledged
        self._marks: dict[tuple[str, int], int] = {}  # (topic, partition) -> first offset of the latest batch
        self.published = 0
        self.replayed = 0

    async def run(self) -> None:
        """Relay until cancelled; a failure (Postgres restarting, the broker away) is logged and the relay starts
        over (lock, offsets, backlog) after ``retry_s``."""
        while True:
            try:
                await self._run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("outbox relay failed; starting over", extra={"schema": self._schema, "error": repr(exc)})
                await asyncio.sleep(self._retry_s)

    async def _run_once(self) -> None:
        lock_conn: asyncpg.Connection = await self._pool.acquire()
        try:
            while not await lock_conn.fetchval(  # noqa: ASYNC110 - the lock is polled, not signalled
                "SELECT pg_try_advisory_lock(hashtext($1))", f"annotary-relay-{self._schema}"
            ):
                await asyncio.sleep(1.0)  # another replica holds the lock; poll for it
            await lock_conn.add_listener(f"{self._schema}_outbox", self._on_notify)
            await self._load_offsets()
            cleanup_at = probe_at = 0.0
            loop = asyncio.get_running_loop()
            self._verify_until = loop.time() + self._verify_window_s  # a new relay, maybe a new broker
            while True:
                sent = await self.publish_batch()
                if loop.time() >= cleanup_at:
                    await self._cleanup()
                    cleanup_at = loop.time() + 60.0
                if sent == 0 and loop.time() >= probe_at:
                    await self._check_broker()
                    probe_at = loop.time() + self._probe_interval_s
                if sent < self._batch_size:
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self._poll_interval_s)
        finally:
            with contextlib.suppress(Exception):
                await lock_conn.remove_listener(f"{self._schema}_outbox", self._on_notify)
                await lock_conn.execute("SELECT pg_advisory_unlock_all()")
            with contextlib.suppress(Exception):  # a connection Postgres dropped is discarded by the pool
                await self._pool.release(lock_conn)
            if self._probe is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._probe.stop(), 5.0)
                self._probe = None

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def publish_batch(self) -> int:
        # The pool connection is held only to read the batch and to record it: waiting on the broker (topics to
        # settle, acknowledgements, the read-back) holds none.
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT id, topic, key, envelope FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1",
                self._batch_size,
            )
        if not rows:
            return 0
        await self._await_topics({row["topic"] for row in rows})
        futures = [
            await self._producer.send(row["topic"], value=bytes(row["envelope"]), key=row["key"].encode())
            for row in rows
        ]
        metas: list[RecordMetadata] = await asyncio.gather(*futures)
        unserved = 0
        if asyncio.get_running_loop().time() < self._verify_until:
            unserved = await self._unserved(rows, metas)
        low: dict[tuple[str, int], int] = {}
        high: dict[tuple[str, int], int] = {}
        for md in metas:
            tp = (md.topic, md.partition)
            low[tp] = min(low.get(tp, md.offset), md.offset)
            high[tp] = max(high.get(tp, md.offset), md.offset)
        lost = sorted(tp for tp, offset in low.items() if offset <= self._acked.get(tp, -1))
        if unserved:
            log.warning("the broker acknowledged records it does not serve; publishing the outbox again",
                        extra={"schema": self._schema, "unserved": unserved, "batch": len(rows)})
            lost = sorted(low)
        ids = [r["id"] for r in rows]
        offsets = [[t for t, _ in high], [p for _, p in high], list(high.values()), [low[tp] for tp in high]]
        if not lost and not unserved:  # the usual case: the rows and the offsets in one statement
            async with self._pool.acquire() as conn:
                await conn.execute(_MARK_PUBLISHED_SQL, ids, *offsets)
        else:
            async with self._pool.acquire() as conn, conn.transaction():
                await conn.execute(_MARK_ROWS_SQL, ids)
                if lost:
                    # the broker's log restarted below offsets it acknowledged before: everything published may be
                    # gone, this batch too (a broker whose topic was re-created under it may not serve what it
                    # just acknowledged); queue it all again (same event ids) and forget the old offsets
                    await self._queue_again(conn, lost)
                if not unserved:  # offsets of records it does not serve say nothing
                    await conn.execute(_SAVE_OFFSETS_ALONE_SQL, *offsets)
        if lost:
            self._acked, self._marks = {}, {}
            self._verify_until = asyncio.get_running_loop().time() + self._verify_window_s
            # after the commit: no transaction waits on the broker; records it did not serve: it may be mid-reset
            await self._reset_topics(settle=bool(unserved))
        if unserved:
            return len(rows)
        for tp, offset in high.items():
            self._acked[tp] = max(self._acked.get(tp, -1), offset)
            self._marks[tp] = max(self._marks.get(tp, -1), low[tp])
        self.published += len(rows)
        PUBLISHED.labels(self._schema).inc(len(rows))
        return len(rows)

    async def _probe_consumer(self) -> AIOKafkaConsumer | None:
        if self._bootstrap_servers is None:
            return None
        if self._probe is None:
            probe = AIOKafkaConsumer(bootstrap_servers=self._bootstrap_servers, group_id=None, enable_auto_commit=False)
            await probe.start()
            self._probe = probe
        return self._probe

    async def _unserved(self, rows: list[asyncpg.Record], metas: list[RecordMetadata]) -> int:
        """How many of the batch's records the broker does not serve at the offsets it acknowledged (read back by a
        consumer of its own; a record missing or with other bytes counts); 0 without ``bootstrap_servers``. A read
        that fails or takes too long counts the whole batch: publishing again is safe, trusting is not."""
        if self._bootstrap_servers is None:
            return 0
        want = {(md.topic, md.partition, md.offset): bytes(row["envelope"])
                for row, md in zip(rows, metas, strict=True)}
        try:
            seen = await asyncio.wait_for(self._read_back(set(want)), self._probe_interval_s * 5)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("reading the batch back failed; counting it as not served",
                        extra={"schema": self._schema, "error": repr(exc)})
            return len(want)
        return sum(1 for key, value in want.items() if seen.get(key) != value)

    async def _read_back(self, offsets: set[tuple[str, int, int]]) -> dict[tuple[str, int, int], bytes | None]:
        """The records at ``offsets`` (topic, partition, offset) as the broker serves them now."""
        first: dict[TopicPartition, int] = {}
        last: dict[TopicPartition, int] = {}
        for topic, partition, offset in offsets:
            tp = TopicPartition(topic, partition)
            first[tp] = min(first.get(tp, offset), offset)
            last[tp] = max(last.get(tp, offset), offset)
        reader = AIOKafkaConsumer(bootstrap_servers=self._bootstrap_servers, group_id=None, enable_auto_commit=False)
        await reader.start()
        seen: dict[tuple[str, int, int], bytes | None] = {}
        try:
            reader.assign(list(first))
            for tp, offset in first.items():
                reader.seek(tp, offset)
            pending = set(first)
            deadline = asyncio.get_running_loop().time() + self._probe_interval_s * 2
            while pending and asyncio.get_running_loop().time() < deadline:
                for tp, records in (await reader.getmany(*pending, timeout_ms=200)).items():
                    for record in records:
                        seen[(tp.topic, tp.partition, record.offset)] = record.value
                    if records and records[-1].offset >= last[tp]:
                        pending.discard(tp)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(reader.stop(), 5.0)
        return seen

    async def _await_topics(self, topics: set[str]) -> None:
        """Return once every topic in ``topics`` exists on the broker (checked by a metadata request for all
        topics, which creates none); a missing one is created through ``on_broker_reset`` and given
        ``settle_s`` to settle. Raises (the relay starts over) when the broker cannot be asked."""
        probe = await self._probe_consumer()
        if probe is None or self._on_broker_reset is None:
            return
        present = await asyncio.wait_for(probe.topics(), self._probe_interval_s * 5)
        missing = sorted(topics - present)
        if not missing:
            return
        log.warning("topics missing on the broker; creating them before publishing",
                    extra={"schema": self._schema, "missing_topics": missing})
        self._verify_until = asyncio.get_running_loop().time() + self._verify_window_s
        await self._reset_topics(settle=True)
        present = await asyncio.wait_for(probe.topics(), self._probe_interval_s * 5)
        if still := sorted(topics - present):
            raise RuntimeError(f"topics {still} still missing on the broker after creating them")

    async def _reset_topics(self, *, settle: bool) -> None:
        """After the broker lost topics or logs: have the topics created again (``on_broker_reset``), give the
        broker ``settle_s`` where asked, and have the producer fetch the cluster's metadata now instead of at its
        next periodic refresh. It may still route by the partitions of a topic's previous life, and Tansu
        acknowledges a write to a partition the topic no longer has (created with 3 after an auto-created 4) and
        never serves it: publishing again with the old metadata would repeat the loss. A broker that does not
        answer the metadata request leaves it as it was: the next batch tells."""
        if self._on_broker_reset is not None:
            await self._on_broker_reset()
        if settle:
            await asyncio.sleep(self._settle_s)
        try:
            await asyncio.wait_for(self._producer.client.force_metadata_update(), self._probe_interval_s * 5)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.debug("refreshing the producer's metadata failed", extra={"schema": self._schema,
                                                                           "error": repr(exc)})

    async def _queue_again(self, conn: asyncpg.Connection, lost: list[tuple[str, int]]) -> None:
        """Mark every published row unpublished and forget the acknowledged offsets."""
        status = await conn.execute("UPDATE outbox SET published_at = NULL WHERE published_at IS NOT NULL")
        again = int(status.split()[-1])
        await conn.execute("DELETE FROM outbox_offsets")
        log.warning(
            "the broker lost its log; publishing the outbox again",
            extra={"schema": self._schema, "partitions": [f"{t}:{p}" for t, p in lost], "events": again},
        )
        self.replayed += again

    async def _check_broker(self) -> None:
        """While idle: does the broker still hold what it acknowledged, and every known topic? An end of the log
        below the first offset of the latest batch sent to a partition means it lost the log; a known topic
        missing means it lost its metadata (consumers subscribed to a topic that vanished stop making progress
        until it exists again): ``on_broker_reset`` (creating the topics) runs in both cases."""
        try:
            probe = await self._probe_consumer()
            if probe is None:
                return
            present = await asyncio.wait_for(probe.topics(), self._probe_interval_s * 2)
            marks = dict(self._marks)
            ends = (
                await asyncio.wait_for(
                    probe.end_offsets([TopicPartition(t, p) for t, p in marks if t in present]),
                    self._probe_interval_s * 2,
                )
                if marks
                else {}
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the broker away: the next round or the next send tells
            log.debug("broker probe failed", extra={"schema": self._schema, "error": repr(exc)})
            return
        missing = sorted(t for t in ALL_TOPICS if t not in present)
        lost = sorted(
            {(t, p) for (t, p) in marks if t not in present}
            | {(tp.topic, tp.partition) for tp, end in ends.items() if end < marks[(tp.topic, tp.partition)]}
        )
        if missing or lost:
            self._verify_until = asyncio.get_running_loop().time() + self._verify_window_s
            log.warning("the broker lost topics or logs", extra={"schema": self._schema, "missing_topics": missing,
                                                                  "lost_partitions": [f"{t}:{p}" for t, p in lost]})
            await self._reset_topics(settle=False)
        if not lost:
            return
        async with self._pool.acquire() as conn, conn.transaction():
            await self._queue_again(conn, lost)
        self._acked, self._marks = {}, {}
        self._wake.set()

    async def _load_offsets(self) -> None:
        """The offsets acknowledged before this relay started (by it or by a predecessor)."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch("SELECT topic, partition, last_offset, batch_offset FROM outbox_offsets")
        self._acked = {(r["topic"], r["partition"]): r["last_offset"] for r in rows}
        self._marks = {(r["topic"], r["partition"]): r["batch_offset"] for r in rows}

    async def _cleanup(self) -> None:
        async with self._pool.acquire() as conn:
            await conn.execute(
                "DELETE FROM outbox WHERE published_at < now() - make_interval(secs => $1)", self._retention_s
            )
