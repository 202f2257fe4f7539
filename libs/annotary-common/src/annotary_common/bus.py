"""The Kafka bus: broker and producer factories, topic creation, and idempotent consumers.

A consumer handler receives ``(conn, event)`` inside one Postgres transaction that also records
the event id in the inbox, so its effect and "processed" commit together (exactly-once effect on
at-least-once delivery). Undecodable messages and messages that keep failing go to the consumer
group's dead-letter topic with the reason; the partition moves on.

Where a group resumes is kept in Postgres too (``consumer_positions``), not only as the broker's committed
offset: a broker that restarted on empty storage starts its logs again at offset 0 and accepts the commits of
members that have not noticed yet, so a committed offset can point past records nobody read. On every assignment
the group checks that the broker still serves, at the stored offsets, the records it read last (and first); where
it does not, the group reads the partition again from the start and the inbox drops what was applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from opentelemetry import trace

from annotary_common.events import Event, UndecodableEvent, parse_event
from annotary_common.metrics import EVENTS, apply_deferred, deferred
from annotary_common.settings import CommonSettings
from annotary_common.telemetry import context_from, ids_of
from annotary_common.topics import ALL_TOPICS, dead_letter_topic

log = logging.getLogger(__name__)
tracer = trace.get_tracer("annotary.bus")

Handler = Callable[[asyncpg.Connection, Event], Awaitable[None]]


@dataclass(frozen=True)
class Position:
    """A record a consumer group took off the bus: where it sits and what it is (:func:`record_id`)."""

    group: str
    topic: str
    partition: int
    offset: int
    record_id: str


_SAVE_POSITION = """
INSERT INTO consumer_positions AS p (consumer_group, topic, partition, next_offset, record_id, first_id)
VALUES ($1, $2, $3, $4::bigint + 1, $5, CASE WHEN $4::bigint = 0 THEN $5 END)
ON CONFLICT (consumer_group, topic, partition) DO UPDATE SET
    next_offset = EXCLUDED.next_offset,
    record_id = EXCLUDED.record_id,
    first_id = CASE WHEN $4::bigint = 0 THEN EXCLUDED.record_id ELSE p.first_id END,
    updated_at = now()
"""


async def save_position(conn: asyncpg.Connection, position: Position) -> None:
    await conn.execute(_SAVE_POSITION, position.group, position.topic, position.partition, position.offset,
                       position.record_id)


def record_id(raw: bytes | None) -> str:
    """What identifies a record on the bus: its event id, or a digest of bytes that are not an event."""
    if raw is None:
        return "null"
    try:
        return parse_event(raw).event_id
    except UndecodableEvent:
        return "sha256:" + hashlib.sha256(raw).hexdigest()


async def apply_once(
    pool: asyncpg.Pool, consumer: str, event: Event, handler: Handler, position: Position | None = None
) -> bool:
    """Run ``handler`` in one transaction with the inbox row for (consumer, event id); False, and nothing done,
    when the event was applied before (a re-delivery or a re-publication). ``position`` (the record the event came
    in) is saved in the same transaction either way, so a group never resumes past an effect it has not kept."""
    with deferred() as metric_updates:  # the handler's metric updates count once, when its transaction commits
        async with pool.acquire() as conn, conn.transaction():
            fresh = await conn.fetchval(
                "INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING true",
                consumer,
                uuid.UUID(event.event_id),
            )
            if position is not None:
                await save_position(conn, position)
            if not fresh:
                return False
            await handler(conn, event)
    apply_deferred(metric_updates)
    return True


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


async def _settle(action: Callable[[], Awaitable[None]], what: str) -> None:
    try:
        await action()
    except KafkaError as exc:
        log.warning(f"offset {what} failed; the message may be taken again (the inbox drops a repeat)",
                    extra={"error": repr(exc)})


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
        self.dead_lettered = 0
        self.in_flight = 0  # messages taken off the bus whose handling has not finished
        self.peak_in_flight = 0
        self.replayed_partitions = 0  # partitions read again from the start because their log was not the same
        self._resume_timeout_s = resume_timeout_s

    def subscribe(self, topic: str, handler: Handler) -> None:
        """Route ``topic`` to ``handler``; call :meth:`register` once every topic is routed."""
        if topic in self._handlers:
            raise ValueError(f"{topic} has a handler already")
        self._handlers[topic] = handler

    def register(self) -> None:
        """One Kafka consumer for all the group's topics: one group member per process, so a start-up
        joins the group once instead of once per topic (each join is a rebalance of the whole group)."""
        if not self._handlers:
            return
        handlers = dict(self._handlers)

        async def on_message(msg: KafkaMessage) -> None:
            topic = getattr(msg.raw_message, "topic", "")
            handler = handlers.get(topic)
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            saved = False
            try:
                try:
                    if handler is None:
                        error = LookupError(f"no handler for topic {topic!r}")
                        await self._dead_letter(bytes(msg.body), msg, error, 0)
                    else:
                        saved = await self._handle(f"{self.group_id}:{topic}", msg, handler)
                except Exception as exc:  # a failure outside the handler's retries: dead-letter it
                    await self._dead_letter(bytes(msg.body), msg, exc, 0)
            except Exception:  # even the dead-letter send failed (the broker away): rewind, take it again
                log.exception("dead-lettering failed; rewinding so the message is taken again")
                await _settle(msg.nack, "rewind")
                return
            finally:
                self.in_flight -= 1
            if not saved:  # dead-lettered: the partition moves on past it
                await self._save_position(msg, None)
            await _settle(msg.ack, "commit")

        session_ms, heartbeat_ms, rebalance_ms = consumer_timeouts(self._settings)
        resume = _ResumeFromDatabase(self)
        subscriber = self._broker.subscriber(
            *handlers,
            group_id=self.group_id,
            auto_offset_reset="earliest",
            # Committed by on_message after handling (rewound when even dead-lettering fails, so the message is
            # taken again and never lost). Manual, so that a commit refused after a rebalance (a broker restart)
            # is logged instead of ending the consume loop: the message may come again and the inbox drops it.
            ack_policy=AckPolicy.MANUAL,
            fetch_max_bytes=self._fetch_max_bytes,
            max_partition_fetch_bytes=self._partition_fetch_bytes,
            session_timeout_ms=session_ms,
            heartbeat_interval_ms=heartbeat_ms,
            rebalance_timeout_ms=rebalance_ms,
            listener=resume,
        )
        subscriber(on_message)
        resume.subscriber = subscriber

    def _position(self, msg: KafkaMessage, event: Event | None) -> Position | None:
        source = msg.raw_message
        topic, partition, offset = getattr(source, "topic", None), getattr(source, "partition", None), \
            getattr(source, "offset", None)
        if not isinstance(topic, str) or not isinstance(partition, int) or not isinstance(offset, int):
            return None
        ident = event.event_id if event is not None else record_id(bytes(msg.body))
        return Position(self.group_id, topic, partition, offset, ident)

    async def _save_position(self, msg: KafkaMessage, event: Event | None) -> None:
        """Save where the group resumes, outside a handler's transaction (a dead-lettered message). Behind is safe
        (the message comes again and the inbox drops it), so a failure here is only logged."""
        position = self._position(msg, event)
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

    async def _handle(self, consumer_name: str, msg: KafkaMessage, handler: Handler) -> bool:
        """Handle one message; True when its position was saved with the effect (applied or a duplicate)."""
        raw = msg.body if isinstance(msg.body, bytes) else bytes(msg.body)
        try:
            event = parse_event(raw)
        except UndecodableEvent as exc:
            await self._dead_letter(raw, msg, exc, 0)
            return False
        position = self._position(msg, event)
        ctx = context_from(event.envelope.trace_context)
        with tracer.start_as_current_span(
            f"consume {event.envelope.type}",
            context=ctx,
            attributes={
                "messaging.consumer.group.name": self.group_id,
                "annotary.event_id": event.event_id,
                **ids_of(event.payload),
            },
        ):
            attempt = 0
            while True:
                attempt += 1
                try:
                    applied = await apply_once(self._pool, consumer_name, event, handler, position)
                    EVENTS.labels(self.group_id, event.envelope.type, "applied" if applied else "duplicate").inc()
                    return position is not None
                except PermanentError as exc:
                    await self._dead_letter(raw, msg, exc, attempt, event)
                    return False
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    transient = is_transient(exc)
                    if attempt >= self._max_attempts and not transient:
                        log.exception("handler failed; dead-lettering", extra={"event_id": event.event_id})
                        await self._dead_letter(raw, msg, exc, attempt, event)
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
        self, raw: bytes, msg: KafkaMessage, error: BaseException, attempts: int, event: Event | None = None
    ) -> None:
        """Publish the original bytes to the group's dead-letter topic with the reason in headers: the error's
        type and message, where the message came from (topic, partition, offset), the group and the attempts.
        Raises when the dead-letter topic cannot be written: the message is then taken again, not lost."""
        self.dead_lettered += 1
        source = msg.raw_message
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


class _ResumeFromDatabase(ConsumerRebalanceListener):  # type: ignore[misc]
    """Pauses a group's newly assigned partitions at once (the fetcher is already running: nothing may be read from
    the broker's committed offset before the saved position is checked) and hands them to :meth:`Consumer.resume`
    in a task of its own, so the check never holds up the group's join past its session timeout. A newer assignment
    supersedes a check still running. The Kafka consumer is the subscriber's, made when the broker starts."""

    def __init__(self, owner: Consumer) -> None:
        self._owner = owner
        self.subscriber: Any = None
        self._generation = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self._generation += 1  # a check still running is for an assignment that is gone

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        kafka = getattr(self.subscriber, "consumer", None)
        if kafka is None or not assigned:
            return
        kafka.pause(*assigned)
        self._generation += 1
        generation = self._generation
        task = asyncio.create_task(self._owner.resume(kafka, assigned, lambda: self._generation == generation))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
