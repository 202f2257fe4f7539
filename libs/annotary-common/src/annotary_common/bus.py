"""The Kafka bus: broker and producer factories, topic creation, and idempotent consumers.

A consumer handler receives ``(conn, event)`` inside one Postgres transaction that also records
the event id in the inbox, so its effect and "processed" commit together (exactly-once effect on
at-least-once delivery). Undecodable messages and messages that keep failing go to the consumer
group's dead-letter topic with the reason; the partition moves on.

Where a group resumes is kept in Postgres too (``consumer_positions``), not only as the broker's committed
offset: a broker that restarted on empty storage starts its logs again at offset 0 and accepts the commits of
members that have not noticed yet, so a committed offset can point past records nobody read. On every assignment
the group checks that the broker still serves, at the stored offsets, the records it read last (and first); where
it does not, the group reads the partition again from the start and the inbox drops what was applied. A member
that led its group's rebalance checks that the coordinator handed it the partitions it computed for itself, and
joins again as a new member where it did not (Tansu can answer with the assignment of the round before).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace

from annotary_common.events import Event, UndecodableEvent, parse_event
from annotary_common.metrics import EVENTS, apply_deferred, deferred
from annotary_common.settings import CommonSettings
from annotary_common.telemetry import context_from, ids_of, spans_exported
from annotary_common.topics import ALL_TOPICS, dead_letter_topic

log = logging.getLogger(__name__)
tracer = trace.get_tracer("annotary.bus")

Handler = Callable[[asyncpg.Connection, Event], Awaitable[None]]
# Several events of one topic and partition, in order, in one transaction (an optimisation of a Handler: same effect)
BatchHandler = Callable[[asyncpg.Connection, Sequence[Event]], Awaitable[None]]


def one_by_one(handler: Handler) -> BatchHandler:
    """The batch handler that runs ``handler`` on each event in turn, in the one transaction (each in a span that
    continues the event's trace, as a single event's handling does): the per-event transaction, inbox and position
    statements are saved. Only for handlers whose transactions may be merged: their effects are in Postgres and they
    lock no rows that a request holds while it waits for another (a batch holds its locks until it commits)."""

    async def handle_all(conn: asyncpg.Connection, events: Sequence[Event]) -> None:
        for event in events:
            with consume_span(event):
                await handler(conn, event)

    return handle_all


def _consume_span_args(event: Event, attributes: dict[str, Any] | None = None) -> dict[str, Any]:
    """Name, parent (the event's trace: its envelope's context) and attributes of the span of handling ``event``."""
    return {"name": f"consume {event.envelope.type}", "context": context_from(event.envelope.trace_context),
            "attributes": {**(attributes or {}), "annotary.event_id": event.event_id, **ids_of(event.payload)}}


def consume_span(event: Event, attributes: dict[str, Any] | None = None) -> Any:
    """The span of handling ``event``: it continues the event's trace (its envelope's context). When no span is
    exported (:func:`spans_exported`) none is made: the envelope's context becomes current, so logs and the events
    staged inside carry the producer's trace."""
    if not spans_exported():
        return _producer_context(event)
    return tracer.start_as_current_span(**_consume_span_args(event, attributes))


@contextlib.contextmanager
def _producer_context(event: Event) -> Iterator[None]:
    token = otel_context.attach(context_from(event.envelope.trace_context))
    try:
        yield
    finally:
        otel_context.detach(token)


def consumed_context(event: Event) -> dict[str, str]:
    """The span :func:`consume_span` makes for ``event``, started and ended here without being entered (a run of
    thousands of events pays for no context switches), and the trace context that continues from it (a carrier for
    ``traceparent``). When no span is exported, none is made (the SDK's span cost ~90 µs per event): the envelope's
    context is the one that continues."""
    if not spans_exported():
        return dict(event.envelope.trace_context)
    span = tracer.start_span(**_consume_span_args(event))
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=trace.set_span_in_context(span))
    span.end()
    return carrier


@dataclass(frozen=True)
class Position:
    """A record a consumer group took off the bus: where it sits and what it is (:func:`record_id`)."""

    group: str
    topic: str
    partition: int
    offset: int
    record_id: str


# $1..$5 the group, topic, partition, offset and id of the record read last; $6 the id of the log's first record
# when this run read it (else null: the record read last is the first when its offset is 0).
_SAVE_POSITION = """
INSERT INTO consumer_positions AS p (consumer_group, topic, partition, next_offset, record_id, first_id)
VALUES ($1, $2, $3, $4::bigint + 1, $5, COALESCE($6::text, CASE WHEN $4::bigint = 0 THEN $5 END))
ON CONFLICT (consumer_group, topic, partition) DO UPDATE SET
    next_offset = EXCLUDED.next_offset,
    record_id = EXCLUDED.record_id,
    first_id = COALESCE($6::text, CASE WHEN $4::bigint = 0 THEN EXCLUDED.record_id ELSE p.first_id END),
    updated_at = now()
"""
_INBOX = ("INSERT INTO inbox (consumer, event_id) SELECT ${consumer}, unnest(${ids}::uuid[])"
          " ON CONFLICT DO NOTHING RETURNING event_id")
# The inbox rows alone ($1, $2), or with the position in one statement ($1..$6 the position's, then $7, $8).
_INBOX_ONLY = _INBOX.format(consumer=1, ids=2)
_INBOX_AND_POSITION = f"WITH position AS ({_SAVE_POSITION}) " + _INBOX.format(consumer=7, ids=8)


def _position_args(positions: Sequence[Position | None]) -> tuple[Any, ...] | None:
    """One run's positions (one partition's: the record read last, after the log's first record when the run read
    it) as :data:`_SAVE_POSITION`'s parameters; None when there is none."""
    given = [p for p in positions if p is not None]
    if not given:
        return None
    last = given[-1]
    first = next((p.record_id for p in given[:-1] if p.offset == 0), None)
    return last.group, last.topic, last.partition, last.offset, last.record_id, first


async def save_position(conn: asyncpg.Connection, position: Position) -> None:
    await conn.execute(_SAVE_POSITION, *(_position_args([position]) or ()))


def record_id(raw: bytes | None) -> str:
    """What identifies a record on the bus: its event id, or a digest of bytes that are not an event."""
    if raw is None:
        return "null"
    try:
        return parse_event(raw).event_id
    except UndecodableEvent:
        return "sha256:" + hashlib.sha256(raw).hexdigest()


async def apply_batch(
    pool: asyncpg.Pool, consumer: str, events: Sequence[Event], handler: BatchHandler,
    positions: Sequence[Position | None] = (),
) -> int:
    """Run ``handler`` on the events not applied before (in order, each once) in one transaction with their inbox
    rows for (consumer, event id); returns how many were new (0: nothing done, re-deliveries or re-publications).
    ``positions`` (where the events came in) are saved in the same transaction either way, so a group never resumes
    past an effect it has not kept."""
    with deferred() as metric_updates:  # the handler's metric updates count once, when its transaction commits
        ids = [uuid.UUID(e.event_id) for e in events]
        position = _position_args(positions)
        async with pool.acquire() as conn, conn.transaction():
            rows = await (conn.fetch(_INBOX_ONLY, consumer, ids) if position is None else
                          conn.fetch(_INBOX_AND_POSITION, *position, consumer, ids))
            new_ids = {r["event_id"] for r in rows}
            fresh = []
            for event, ident in zip(events, ids, strict=True):  # a re-publication may sit next to its first copy
                if ident in new_ids:
                    new_ids.discard(ident)
                    fresh.append(event)
            if not fresh:
                return 0
            await handler(conn, fresh)
    apply_deferred(metric_updates)
    return len(fresh)


async def apply_once(
    pool: asyncpg.Pool, consumer: str, event: Event, handler: Handler, position: Position | None = None
) -> bool:
    """:func:`apply_batch` of one event; False, and nothing done, when it was applied before."""

    async def one(conn: asyncpg.Connection, events: Sequence[Event]) -> None:
        await handler(conn, events[0])

    return await apply_batch(pool, consumer, [event], one, [position]) == 1


async def read_records(
    bootstrap: str, offsets: Collection[tuple[str, int, int]], wait_s: float = 2.0
) -> dict[tuple[str, int, int], str]:
    """:func:`record_id` of the records the broker serves now at ``offsets`` (topic, partition, offset); an offset
    before the partition's log starts, or not served within ``wait_s`` (past its end), is left out."""
    wanted: dict[TopicPartition, list[int]] = {}
    for topic, partition, offset in offsets:
        wanted.setdefault(TopicPartition(topic, partition), []).append(offset)
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await reader.start()
    found: dict[tuple[str, int, int], str] = {}
    try:
        tps = list(wanted)
        reader.assign(tps)
        # Only the log's start rules offsets out: Tansu reports a log's end as the first offset of its last record
        # batch, so records of that batch lie at or past the "end"; an offset past the real end is not served
        # within wait_s.
        starts = await reader.beginning_offsets(tps)
        queues = {tp: sorted(o for o in set(wanted[tp]) if starts[tp] <= o) for tp in tps}
        loop = asyncio.get_running_loop()
        while any(queues.values()):  # one offset per partition at a time (at most a few per partition)
            current = {tp: queue.pop(0) for tp, queue in queues.items() if queue}
            for tp, offset in current.items():
                reader.seek(tp, offset)
            deadline = loop.time() + wait_s
            while current and loop.time() < deadline:
                for tp, records in (await reader.getmany(*current, timeout_ms=200)).items():
                    hit = next((r for r in records if r.offset >= current[tp]), None)
                    if hit is None:
                        continue
                    if hit.offset == current[tp]:
                        found[(tp.topic, tp.partition, hit.offset)] = record_id(hit.value)
                    del current[tp]
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(reader.stop(), 5.0)
    return found


def _value(record: Any) -> bytes:
    value = record.value
    return b"" if value is None else value if isinstance(value, bytes) else bytes(value)


_COMMITTED = -1  # a resume decision: leave the partition where the broker's committed offset puts it


class PermanentError(Exception):
    """A message that no retry can fix (bad content): dead-letter it at once."""


# Failures of the infrastructure, not of the message: Postgres restarting, the network, a timeout, a
# backing gRPC service away. Retrying them never ends in the dead-letter topic (the message is good; it
# waits, holding its partition, until the dependency is back), unlike a handler that fails on the content.
_TRANSIENT_GRPC = {"UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "ABORTED"}


def is_transient(exc: BaseException) -> bool:
    if isinstance(
        exc,
        ConnectionError
        | TimeoutError
        | asyncpg.PostgresConnectionError
        | asyncpg.exceptions.ConnectionDoesNotExistError
        | asyncpg.exceptions.CannotConnectNowError
        | asyncpg.exceptions.TooManyConnectionsError
        | asyncpg.exceptions.SerializationError
        | asyncpg.exceptions.DeadlockDetectedError
        | asyncpg.exceptions.AdminShutdownError,
    ):
        return True
    code = getattr(exc, "code", None)  # grpc.aio.AioRpcError, without importing grpc here
    status = code() if callable(code) else None
    return getattr(status, "name", None) in _TRANSIENT_GRPC


def consumer_timeouts(settings: CommonSettings) -> tuple[int, int, int | None]:
    """(session, heartbeat, rebalance) timeouts in ms: Kafka's defaults, or fast ones for tests/embedded."""
    if settings.kafka_fast_rebalance:
        return 1000, 200, 500
    return 10_000, 3_000, None


def make_broker(settings: CommonSettings, service: str) -> KafkaBroker:
    return KafkaBroker(
        settings.kafka_bootstrap, client_id=f"annotary-{service}", logger=logging.getLogger(f"faststream.{service}"),
        # Topics re-created after a broker lost them (the relay does that) are noticed within seconds, so the
        # group rebalances onto them; at Kafka's default (5 min) consumers sat idle that long.
        metadata_max_age_ms=5000,
    )


def make_producer(settings: CommonSettings, service: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=f"annotary-{service}-relay",
        acks="all",
        # as the consumers': a topic re-created with other partitions is routed by its own within seconds
        metadata_max_age_ms=5000,
        linger_ms=5,
        compression_type="gzip",
    )


async def ensure_topics(settings: CommonSettings, extra: Sequence[str] = ()) -> None:
    """Create the known topics (idempotent); brokers that auto-create are fine too."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [t for t in (*ALL_TOPICS, *extra) if t not in existing]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):  # another service created them meanwhile
                await admin.create_topics(
                    [NewTopic(name=t, num_partitions=settings.kafka_partitions, replication_factor=1) for t in wanted]
                )
    finally:
        await admin.close()


class Consumer:
    """Wires a handler to a topic for one consumer group, with inbox, retries and dead-lettering."""

    def __init__(
        self,
        *,
        broker: KafkaBroker,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        settings: CommonSettings,
        group_id: str,
        max_attempts: int = 5,
        backoff_s: float = 0.2,
        max_backoff_s: float = 5.0,
        fetch_max_bytes: int = 4 << 20,
        partition_fetch_bytes: int = 1 << 20,
        resume_timeout_s: float = 10.0,
        commit_interval_s: float = 1.0,
        max_batch: int = 200,
    ) -> None:
        self._broker = broker
        self._pool = pool
        self._producer = producer
        self._settings = settings
        self.group_id = group_id
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        # Back-pressure: messages are handled one at a time per consumer (a partition's order is kept), and
        # the client prefetches at most this many bytes (per partition / in all) of what is not yet handled;
        # it fetches again only as the handler drains its buffer, so a slow consumer lags on the broker,
        # never in memory.
        self._fetch_max_bytes = fetch_max_bytes
        self._partition_fetch_bytes = partition_fetch_bytes
        self._handlers: dict[str, Handler] = {}
        self._batch_handlers: dict[str, BatchHandler] = {}
        self._max_batch = max_batch
        self.batches = 0  # runs of several events applied in one transaction
        self.dead_lettered = 0
        self.in_flight = 0  # messages taken off the bus whose handling has not finished
        self.peak_in_flight = 0
        self.replayed_partitions = 0  # partitions read again from the start because their log was not the same
        self._resume_timeout_s = resume_timeout_s
        # The broker's committed offsets are for lag tools and for a group's first start (where resuming is
        # decided, Postgres's positions count): handled offsets are committed together, at most every
        # ``commit_interval_s`` (0: after each message), instead of one broker round trip per message, and when
        # the service stops; not when partitions are revoked (see _ResumeFromDatabase).
        self._commit_interval_s = commit_interval_s
        self._to_commit: dict[TopicPartition, int] = {}
        self._committer: Any = None  # the Kafka consumer the offsets are committed with
        self._commit_task: asyncio.Task[None] | None = None
        self.commits = 0  # commit requests sent to the broker
        self._closing = False

    def subscribe(self, topic: str, handler: Handler, batch: BatchHandler | None = None) -> None:
        """Route ``topic`` to ``handler``; call :meth:`register` once every topic is routed.

        ``batch`` (optional) applies a run of the topic's events taken off one partition together, in one
        transaction with their inbox rows and the group's position, for the same effect as ``handler`` on each in
        turn. A run that fails as a whole is halved until the failing event is alone; a single event is applied
        with ``handler`` (retries and dead-lettering as usual). A group with a batch handler takes records off the
        bus in batches (up to ``max_batch``); the other topics' records are still handled one at a time, in order."""
        if topic in self._handlers:
            raise ValueError(f"{topic} has a handler already")
        self._handlers[topic] = handler
        if batch is not None:
            self._batch_handlers[topic] = batch

    def register(self) -> None:
        """One Kafka consumer for all the group's topics: one group member per process, so a start-up
        joins the group once instead of once per topic (each join is a rebalance of the whole group)."""
        if not self._handlers:
            return
        batched = bool(self._batch_handlers)

        async def on_message(msg: KafkaMessage) -> None:
            records = msg.raw_message if isinstance(msg.raw_message, tuple) else (msg.raw_message,)
            await self._process(records, msg.consumer)

        session_ms, heartbeat_ms, rebalance_ms = consumer_timeouts(self._settings)
        resume = _ResumeFromDatabase(self)
        # getmany returns as soon as records are fetched; when none came within the timeout, faststream sleeps as
        # long again before the next poll: 20 ms keeps that added latency small and an idle group's polls cheap
        batch_options: dict[str, Any] = {"batch": True, "max_records": self._max_batch, "batch_timeout_ms": 20} \
            if batched else {}
        subscriber = self._broker.subscriber(
            *self._handlers,
            group_id=self.group_id,
            auto_offset_reset="earliest",
            # Committed after handling (see _handled; rewound when even dead-lettering fails, so the message is
            # taken again and never lost). Manual, so that a commit refused after a rebalance (a broker restart)
            # is logged instead of ending the consume loop: the message may come again and the inbox drops it.
            ack_policy=AckPolicy.MANUAL,
            fetch_max_bytes=self._fetch_max_bytes,
            max_partition_fetch_bytes=self._partition_fetch_bytes,
            session_timeout_ms=session_ms,
            heartbeat_interval_ms=heartbeat_ms,
            rebalance_timeout_ms=rebalance_ms,
            listener=resume,
            partition_assignment_strategy=(resume.assignor,),
            **batch_options,
        )
        subscriber(on_message)
        resume.subscriber = subscriber

    async def _process(self, records: Sequence[Any], consumer: Any) -> None:
        """Records taken off the bus (one, or a batch: runs per partition, each in order): runs of a topic with a
        batch handler together, the rest one at a time. A partition rewound for a failure skips its later records
        here (they are fetched again)."""
        rewound: set[TopicPartition] = set()
        i = 0
        while i < len(records):
            record = records[i]
            tp = TopicPartition(record.topic, record.partition)
            j = i + 1
            while j < len(records) and records[j].topic == record.topic and records[j].partition == record.partition:
                j += 1
            run, i = records[i:j], j
            if tp in rewound:
                continue
            batch = self._batch_handlers.get(record.topic)
            if batch is not None:
                if not await self._split_run(run, batch, consumer):
                    rewound.add(tp)
                continue
            for one in run:
                if not await self._process_one(one, consumer):
                    rewound.add(tp)
                    break

    async def _split_run(self, run: Sequence[Any], batch: BatchHandler, consumer: Any) -> bool:
        """A run with the batch handler; a run that fails as a whole is halved and each half tried again, down to
        single records taken one by one (so a poison message costs a few failed transactions, and only it is
        dead-lettered). False when a record had to be rewound (the rest of the run is not handled)."""
        if len(run) == 1:
            return await self._process_one(run[0], consumer)
        if await self._apply_run(run, batch, consumer):
            return True
        half = len(run) // 2
        return await self._split_run(run[:half], batch, consumer) and await self._split_run(run[half:], batch, consumer)

    async def _process_one(self, record: Any, consumer: Any) -> bool:
        """One record with its topic's handler (retries, dead-lettering); False when it had to be rewound."""
        handler = self._handlers.get(record.topic)
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        saved = False
        raw = _value(record)
        try:
            try:
                if handler is None:
                    await self._dead_letter(raw, record, LookupError(f"no handler for topic {record.topic!r}"), 0)
                else:
                    saved = await self._handle(f"{self.group_id}:{record.topic}", record, handler)
            except Exception as exc:  # a failure outside the handler's retries: dead-letter it
                await self._dead_letter(raw, record, exc, 0)
        except Exception:  # even the dead-letter send failed (the broker away): rewind, take it again
            log.exception("dead-lettering failed; rewinding so the message is taken again")
            try:
                consumer.seek(TopicPartition(record.topic, record.partition), record.offset)
            except Exception as exc:
                log.warning("rewind failed; the message is taken again after the next rebalance",
                            extra={"error": repr(exc)})
            return False
        finally:
            self.in_flight -= 1
        if not saved:  # dead-lettered: the partition moves on past it
            await self._save_position(record, None)
        await self._handled(record, consumer)
        return True

    async def _apply_run(self, run: Sequence[Any], batch: BatchHandler, consumer: Any) -> bool:
        """A run of one partition's records with the topic's batch handler, in one transaction with the inbox rows
        and the position; False (nothing done) when any record is undecodable or the transaction fails."""
        try:
            events = [parse_event(_value(r)) for r in run]
        except UndecodableEvent:
            return False
        positions = [self._position(run[-1], events[-1])]
        if run[0].offset == 0:  # the log's first record: its id is kept with the position
            positions.insert(0, self._position(run[0], events[0]))
        self.in_flight += len(run)
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            with tracer.start_as_current_span(
                f"consume {events[0].envelope.type} x{len(events)}",
                attributes={"messaging.consumer.group.name": self.group_id, "messaging.batch.message_count":
                            len(events)},
            ):
                applied = await apply_batch(self._pool, f"{self.group_id}:{run[0].topic}", events, batch, positions)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.info("a batch failed as a whole; trying its halves",
                     extra={"group": self.group_id, "topic": run[0].topic, "events": len(run), "error": repr(exc)})
            return False
        finally:
            self.in_flight -= len(run)
        self.batches += 1
        kind = events[0].envelope.type
        EVENTS.labels(self.group_id, kind, "applied").inc(applied)
        if len(events) > applied:
            EVENTS.labels(self.group_id, kind, "duplicate").inc(len(events) - applied)
        await self._handled(run[-1], consumer)
        return True

    async def _handled(self, record: Any, consumer: Any) -> None:
        """Mark ``record`` handled (and its partition's records before it) for the broker's committed offset:
        committed now (``commit_interval_s`` 0) or with the others handled within the interval. Only handled
        offsets are committed, never the consumer's position (it may include a message still being handled)."""
        self._to_commit[TopicPartition(record.topic, record.partition)] = record.offset + 1
        self._committer = consumer
        if self._closing:
            return
        if self._commit_interval_s <= 0:
            await self.flush_commits()
        elif self._commit_task is None or self._commit_task.done():
            self._commit_task = asyncio.create_task(self._commit_soon())

    def forget(self, partitions: Collection[TopicPartition]) -> None:
        """Drop the offsets not committed yet of partitions this member no longer holds (they are not committed on
        revocation; were a partition to come back, an old offset must not be committed over a newer one)."""
        for tp in partitions:
            self._to_commit.pop(tp, None)

    async def close(self) -> None:
        """Commit what was handled (before the broker connection stops); nothing is scheduled after."""
        self._closing = True
        if self._commit_task is not None:
            self._commit_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._commit_task
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.flush_commits(), 5.0)

    async def _commit_soon(self) -> None:
        await asyncio.sleep(self._commit_interval_s)
        await self.flush_commits()

    async def flush_commits(self) -> None:
        """Commit the handled offsets not committed yet for the partitions this member still holds. A refused
        commit (a rebalance, the broker away) is only logged: the saved positions in Postgres are what the group
        resumes from."""
        wanted, self._to_commit = self._to_commit, {}
        consumer = self._committer
        if not wanted or consumer is None:
            return
        held = set(consumer.assignment())
        offsets = {tp: offset for tp, offset in wanted.items() if tp in held}
        if not offsets:
            return
        self.commits += 1
        try:
            await consumer.commit(offsets)
        except KafkaError as exc:
            log.warning("offset commit failed; lag tools see the group behind until the next one (where it resumes "
                        "is kept in Postgres)", extra={"group": self.group_id, "error": repr(exc)})

    def _position(self, record: Any, event: Event | None) -> Position | None:
        topic, partition, offset = record.topic, record.partition, record.offset
        if not isinstance(topic, str) or not isinstance(partition, int) or not isinstance(offset, int):
            return None
        ident = event.event_id if event is not None else record_id(record.value)
        return Position(self.group_id, topic, partition, offset, ident)

    async def _save_position(self, record: Any, event: Event | None) -> None:
        """Save where the group resumes, outside a handler's transaction (a dead-lettered message). Behind is safe
        (the message comes again and the inbox drops it), so a failure here is only logged."""
        position = self._position(record, event)
        if position is None:
            return
        try:
            async with self._pool.acquire() as conn:
                await save_position(conn, position)
        except Exception as exc:
            log.warning("saving the consumer position failed; the message may be taken again",
                        extra={"group": self.group_id, "error": repr(exc)})

    async def resume(self, kafka: AIOKafkaConsumer, assigned: Collection[TopicPartition],
                     current: Callable[[], bool]) -> None:
        """Position the group's newly assigned partitions (paused by the caller until then): at the offset saved in
        Postgres where the broker still serves the records read last (and first) there, from the start of the log
        otherwise (nothing saved, the log lost or replaced, Postgres or the broker not answering in time):
        re-reading is safe, skipping is not. Then the partitions are resumed, unless ``current()`` says a newer
        assignment took over (its own resume does it)."""
        assigned = set(assigned)
        decisions: dict[TopicPartition, int | None] = dict.fromkeys(assigned)  # None: from the start
        stale: list[TopicPartition] = []
        try:
            decisions, stale = await asyncio.wait_for(self._decide(assigned), self._resume_timeout_s)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("checking the saved positions failed; reading the assigned partitions from the start",
                        extra={"group": self.group_id, "error": repr(exc)})
        if not current():
            return
        held = set(kafka.assignment())
        try:
            for tp, offset in decisions.items():
                if offset is not None and offset != _COMMITTED and tp in held:
                    kafka.seek(tp, offset)
            from_start = [tp for tp, offset in decisions.items() if offset is None and tp in held]
            if from_start:
                await kafka.seek_to_beginning(*from_start)
        finally:
            if current():
                kafka.resume(*(tp for tp in assigned if tp in set(kafka.assignment())))
        if stale:  # until a record of the new log is read, the partition is read from the start (offset 0 marks it)
            with contextlib.suppress(Exception):
                async with self._pool.acquire() as conn:
                    await conn.execute(
                        "UPDATE consumer_positions SET next_offset = 0, record_id = '', first_id = NULL,"
                        " updated_at = now() WHERE consumer_group = $1"
                        " AND (topic, partition) IN (SELECT * FROM unnest($2::text[], $3::int[]))",
                        self.group_id, [tp.topic for tp in stale], [tp.partition for tp in stale],
                    )

    async def _decide(self, assigned: set[TopicPartition]
                      ) -> tuple[dict[TopicPartition, int | None], list[TopicPartition]]:
        """Per assigned partition, the offset to resume at (None: from the start; ``_COMMITTED``: where the broker's
        committed offset puts it, for a partition this group has no saved position for, as before positions were
        kept here), and the saved rows found stale."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT topic, partition, next_offset, record_id, first_id FROM consumer_positions"
                " WHERE consumer_group = $1 AND topic = ANY($2::text[])",
                self.group_id, sorted({tp.topic for tp in assigned}),
            )
        stored = {TopicPartition(r["topic"], r["partition"]): r for r in rows}
        checks: set[tuple[str, int, int]] = set()
        for tp in assigned & set(stored):
            row = stored[tp]
            if row["next_offset"] == 0:
                continue  # marked: from the start
            checks.add((tp.topic, tp.partition, row["next_offset"] - 1))
            if row["first_id"] is not None:
                checks.add((tp.topic, tp.partition, 0))
        served = await read_records(self._settings.kafka_bootstrap, checks) if checks else {}
        decisions: dict[TopicPartition, int | None] = {}
        stale: list[TopicPartition] = []
        for tp in sorted(assigned):
            row = stored.get(tp)
            if row is None:  # never saved: a new group (no committed offset either: from the start) or one that
                decisions[tp] = _COMMITTED  # ran before positions were kept here (its commits are from a live broker)
                continue
            if row["next_offset"] == 0:
                decisions[tp] = None
                continue
            last = served.get((tp.topic, tp.partition, row["next_offset"] - 1))
            first = served.get((tp.topic, tp.partition, 0))
            # a record at 0 no longer served is retention at work; a different one is another log
            if last == row["record_id"] and (row["first_id"] is None or first in (None, row["first_id"])):
                decisions[tp] = row["next_offset"]
                continue
            self.replayed_partitions += 1
            log.warning(
                "the broker does not serve what this group read at its saved position (a broker that lost its log,"
                " or a stale commit): reading the partition again from the start; the inbox drops what was applied",
                extra={"group": self.group_id, "topic": tp.topic, "partition": tp.partition,
                       "saved_offset": row["next_offset"], "served": last, "expected": row["record_id"]},
            )
            decisions[tp] = None
            stale.append(tp)
        return decisions, stale

    async def _handle(self, consumer_name: str, record: Any, handler: Handler) -> bool:
        """Handle one message; True when its position was saved with the effect (applied or a duplicate)."""
        raw = _value(record)
        try:
            event = parse_event(raw)
        except UndecodableEvent as exc:
            await self._dead_letter(raw, record, exc, 0)
            return False
        position = self._position(record, event)
        with consume_span(event, {"messaging.consumer.group.name": self.group_id}):
            attempt = 0
            while True:
                attempt += 1
                try:
                    applied = await apply_once(self._pool, consumer_name, event, handler, position)
                    EVENTS.labels(self.group_id, event.envelope.type, "applied" if applied else "duplicate").inc()
                    return position is not None
                except PermanentError as exc:
                    await self._dead_letter(raw, record, exc, attempt, event)
                    return False
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    transient = is_transient(exc)
                    if attempt >= self._max_attempts and not transient:
                        log.exception("handler failed; dead-lettering", extra={"event_id": event.event_id})
                        await self._dead_letter(raw, record, exc, attempt, event)
                        return False
                    log.warning(
                        "handler failed; retrying",
                        extra={
                            "event_id": event.event_id,
                            "attempt": attempt,
                            "transient": transient,
                            "error": repr(exc),
                        },
                    )
                    await asyncio.sleep(min(self._max_backoff_s, self._backoff_s * 2 ** min(attempt - 1, 16)))

    async def _dead_letter(
        self, raw: bytes, source: Any, error: BaseException, attempts: int, event: Event | None = None
    ) -> None:
        """Publish the original bytes to the group's dead-letter topic with the reason in headers: the error's
        type and message, where the message came from (topic, partition, offset), the group and the attempts.
        Raises when the dead-letter topic cannot be written: the message is then taken again, not lost."""
        self.dead_lettered += 1
        topic = str(getattr(source, "topic", "?"))
        reason = f"{type(error).__name__}: {error}"
        EVENTS.labels(self.group_id, topic, "dead_lettered").inc()
        log.error("dead-lettered", extra={"reason": reason, "topic": topic, "attempts": attempts})
        key = getattr(source, "key", None)
        headers = {
            "reason": reason,
            "error_type": type(error).__name__,
            "error_message": str(error),
            "source_topic": topic,
            "source_partition": str(getattr(source, "partition", -1)),
            "source_offset": str(getattr(source, "offset", -1)),
            "consumer_group": self.group_id,
            "attempts": str(attempts),
            "dead_lettered_at": datetime.now(UTC).isoformat(),
        }
        if event is not None:
            headers |= {"event_id": event.event_id, "event_type": event.envelope.type}
        await self._producer.send_and_wait(
            dead_letter_topic(self.group_id),
            value=raw,
            key=key if isinstance(key, bytes) else None,
            headers=[(name, value.encode()[:4000]) for name, value in headers.items()],
        )


def _remembering_assignor() -> type[RoundRobinPartitionAssignor]:
    """Kafka's round-robin assignor (same protocol name, so members of any version agree) that remembers, in the
    process that leads a rebalance, the partitions it gave each member: the member can then tell that the
    coordinator handed it something else. Tansu does, when a group's members rejoin unchanged (a topic's
    partitions changed under it): its generation stays 0 and its answer is the assignment of the round before. One
    class per consumer group member, as the memory is per member."""

    class Remembering(RoundRobinPartitionAssignor):  # type: ignore[misc]
        computed: dict[str, set[TopicPartition]] = {}

        @classmethod
        def assign(cls, cluster: Any, members: Any) -> Any:
            assignments = super().assign(cluster, members)
            cls.computed = {member: {TopicPartition(topic, p) for topic, partitions in given.assignment
                                     for p in partitions} for member, given in assignments.items()}
            return assignments

    return Remembering


class _ResumeFromDatabase(ConsumerRebalanceListener):  # type: ignore[misc]
    """Pauses a group's newly assigned partitions at once (the fetcher is already running: nothing may be read from
    the broker's committed offset before the saved position is checked) and hands them to :meth:`Consumer.resume`
    in a task of its own, so the check never holds up the group's join past its session timeout. A newer assignment
    supersedes a check still running. An assignment the member can tell is stale (:meth:`_stale`) is not resumed:
    the member joins again instead. The Kafka consumer is the subscriber's, made when the broker starts."""

    def __init__(self, owner: Consumer) -> None:
        self._owner = owner
        self.subscriber: Any = None
        self.assignor = _remembering_assignor()
        # the last round this member led: its member id, the generation, the assignment it computed
        self._led: tuple[str, Any, dict[str, set[TopicPartition]]] | None = None
        self._generation = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self._generation += 1  # a check still running is for an assignment that is gone
        # Nothing is committed here: a rebalance after a broker restarted on empty storage would commit offsets of
        # the old log into topics that do not exist yet, and the client's retries (with their metadata requests,
        # which create topics) raced the relays' first publications (a chaos run lost records that way). Where
        # the group resumes is decided by the positions in Postgres; the broker's offsets only serve lag tools.
        self._owner.forget(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        kafka = getattr(self.subscriber, "consumer", None)
        if kafka is None:
            return
        if self._stale(kafka, assigned):
            self._generation += 1  # nothing of this assignment is resumed: the member joins afresh
            self._spawn(self._join_afresh(kafka, assigned))
            return
        if not assigned:
            return
        kafka.pause(*assigned)
        self._generation += 1
        generation = self._generation
        self._spawn(self._owner.resume(kafka, assigned, lambda: self._generation == generation))

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _stale(self, kafka: AIOKafkaConsumer, assigned: set[TopicPartition]) -> bool:
        """Whether this member led the rebalance and the coordinator's answer cannot be the leader's assignment:
        this member was handed other partitions than it computed for itself, or, leading again under the same
        member id, it changed the assignment but the generation is the last round's (then the other members got
        the old one). Kafka starts a new generation with every rebalance; Tansu, for unchanged members, keeps it
        and hands out the last round's assignment (see ``_remembering_assignor``). Takes the round's plan from the
        assignor and remembers it as the last round this member led."""
        computed, self.assignor.computed = self.assignor.computed, {}
        coordinator = getattr(kafka, "_coordinator", None)  # aiokafka keeps the member id and generation private
        member, generation = getattr(coordinator, "member_id", None), getattr(coordinator, "generation", None)
        if not computed or not isinstance(member, str):
            return False  # another member led this round
        previous, self._led = self._led, (member, generation, computed)
        mine = computed.get(member)
        if mine is not None and mine != set(assigned):
            why = "handed this member other partitions than it computed as the leader"
        elif previous is not None and previous[:2] == (member, generation) and previous[2] != computed:
            why = "kept the last round's generation although the leader changed the assignment"
        else:
            return False
        log.warning(
            "the group coordinator %s: leaving the group and joining again as a new member", why,
            extra={"group": self._owner.group_id, "generation": generation,
                   "computed": sorted(f"{tp.topic}:{tp.partition}" for tp in mine or ()),
                   "received": sorted(f"{tp.topic}:{tp.partition}" for tp in assigned)},
        )
        return True

    async def _join_afresh(self, kafka: AIOKafkaConsumer, held: set[TopicPartition]) -> None:
        """Leave and subscribe again: the member comes back under a new id, the membership changes, and the
        coordinator must hand out a new assignment (a plain rejoin got the stale one again)."""
        topics = sorted(kafka.subscription())
        self._owner.forget(held)
        kafka.unsubscribe()
        await asyncio.sleep(0.2)  # the leave (a reset of the member id, a LeaveGroup where the generation is > 0)
        kafka.subscribe(topics=topics, listener=self)
