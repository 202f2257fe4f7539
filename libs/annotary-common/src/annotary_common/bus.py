"""The Kafka bus: broker and producer factories, topic creation, and idempotent consumers.

A consumer handler receives ``(conn, event)`` inside one Postgres transaction that also records
the event id in the inbox, so its effect and "processed" commit together (exactly-once effect on
at-least-once delivery). Undecodable messages and messages that keep failing go to the consumer
group's dead-letter topic with the reason; the partition moves on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from opentelemetry import trace
from prometheus_client import Counter

from annotary_common.events import Event, UndecodableEvent, parse_event
from annotary_common.settings import CommonSettings
from annotary_common.telemetry import context_from
from annotary_common.topics import ALL_TOPICS, dead_letter_topic

log = logging.getLogger(__name__)
tracer = trace.get_tracer("annotary.bus")
EVENTS = Counter("annotary_events_total", "Events taken off the bus", ["group", "topic", "outcome"])

Handler = Callable[[asyncpg.Connection, Event], Awaitable[None]]


class PermanentError(Exception):
    """A message that no retry can fix (bad content): dead-letter it at once."""


def consumer_timeouts(settings: CommonSettings) -> tuple[int, int, int | None]:
    """(session, heartbeat, rebalance) timeouts in ms: Kafka's defaults, or fast ones for tests/embedded."""
    if settings.kafka_fast_rebalance:
        return 1000, 200, 500
    return 10_000, 3_000, None


def make_broker(settings: CommonSettings, service: str) -> KafkaBroker:
    return KafkaBroker(
        settings.kafka_bootstrap, client_id=f"annotary-{service}", logger=logging.getLogger(f"faststream.{service}")
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
    ) -> None:
        self._broker = broker
        self._pool = pool
        self._producer = producer
        self._settings = settings
        self.group_id = group_id
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s
        self._handlers: dict[str, Handler] = {}
        self.dead_lettered = 0

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
            if handler is None:
                await self._dead_letter(bytes(msg.body), msg, f"no handler for topic {topic!r}")
                return
            await self._handle(f"{self.group_id}:{topic}", msg, handler)

        session_ms, heartbeat_ms, rebalance_ms = consumer_timeouts(self._settings)
        self._broker.subscriber(
            *handlers,
            group_id=self.group_id,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.ACK,
            session_timeout_ms=session_ms,
            heartbeat_interval_ms=heartbeat_ms,
            rebalance_timeout_ms=rebalance_ms,
        )(on_message)

    async def _handle(self, consumer_name: str, msg: KafkaMessage, handler: Handler) -> None:
        raw = msg.body if isinstance(msg.body, bytes) else bytes(msg.body)
        try:
            event = parse_event(raw)
        except UndecodableEvent as exc:
            await self._dead_letter(raw, msg, f"undecodable: {exc}")
            return
        ctx = context_from(event.envelope.trace_context)
        with tracer.start_as_current_span(
            f"consume {event.envelope.type}",
            context=ctx,
            attributes={"messaging.consumer.group.name": self.group_id, "annotary.event_id": event.event_id},
        ):
            for attempt in range(1, self._max_attempts + 1):
                try:
                    async with self._pool.acquire() as conn, conn.transaction():
                        fresh = await conn.fetchval(
                            "INSERT INTO inbox (consumer, event_id) VALUES ($1, $2)"
                            " ON CONFLICT DO NOTHING RETURNING true",
                            consumer_name,
                            uuid.UUID(event.event_id),
                        )
                        if not fresh:
                            EVENTS.labels(self.group_id, event.envelope.type, "duplicate").inc()
                            return  # already applied: a re-delivery or a re-publication
                        await handler(conn, event)
                    EVENTS.labels(self.group_id, event.envelope.type, "applied").inc()
                    return
                except PermanentError as exc:
                    await self._dead_letter(raw, msg, f"rejected: {exc}")
                    return
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    if attempt == self._max_attempts:
                        log.exception("handler failed; dead-lettering", extra={"event_id": event.event_id})
                        await self._dead_letter(raw, msg, f"failed after {attempt} attempts: {exc!r}")
                        return
                    log.warning(
                        "handler failed; retrying",
                        extra={"event_id": event.event_id, "attempt": attempt, "error": repr(exc)},
                    )
                    await asyncio.sleep(self._backoff_s * 2 ** (attempt - 1))

    async def _dead_letter(self, raw: bytes, msg: KafkaMessage, reason: str) -> None:
        self.dead_lettered += 1
        source = msg.raw_message
        topic = getattr(source, "topic", "?")
        EVENTS.labels(self.group_id, str(topic), "dead_lettered").inc()
        log.error("dead-lettered", extra={"reason": reason, "topic": topic})
        key = getattr(source, "key", None)
        await self._producer.send_and_wait(
            dead_letter_topic(self.group_id),
            value=raw,
            key=key if isinstance(key, bytes) else None,
            headers=[
                ("reason", reason.encode()[:4000]),
                ("source_topic", str(topic).encode()),
                ("source_offset", str(getattr(source, "offset", -1)).encode()),
            ],
        )
