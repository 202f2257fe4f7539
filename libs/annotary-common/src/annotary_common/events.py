"""Building and reading the event envelope."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from google.protobuf.message import DecodeError, Message

from annotary.events.v1 import events_pb2
from annotary_common.telemetry import current_trace_context
from annotary_common.topics import PAYLOAD_TYPES


class UndecodableEvent(ValueError):
    """The bytes on the bus are not an envelope with the payload its type names."""


@dataclass(frozen=True)
class Event:
    envelope: events_pb2.Envelope
    payload: Message

    @property
    def event_id(self) -> str:
        return self.envelope.event_id


def build_envelope(
    topic: str, key: str, payload: Message, producer: str, event_id: str | None = None,
    trace_context: Mapping[str, str] | None = None,
) -> events_pb2.Envelope:
    """The envelope of ``payload``; it carries ``trace_context`` (default: the current one)."""
    env = events_pb2.Envelope(
        event_id=event_id or str(uuid.uuid4()),
        type=topic,
        producer=producer,
        payload=payload.SerializeToString(deterministic=True),
        key=key,
    )
    env.occurred_at.FromDatetime(datetime.now(UTC))
    env.trace_context.update(current_trace_context() if trace_context is None else trace_context)
    return env


def parse_event(raw: bytes) -> Event:
    env = events_pb2.Envelope()
    try:
        env.ParseFromString(raw)
    except DecodeError as exc:
        raise UndecodableEvent(f"not an Envelope: {exc}") from exc
    if not env.event_id or not env.type:
        raise UndecodableEvent("envelope without event_id or type")
    try:
        uuid.UUID(env.event_id)
    except ValueError as exc:
        raise UndecodableEvent(f"event_id {env.event_id!r} is not a UUID") from exc
    payload_type = PAYLOAD_TYPES.get(env.type)
    if payload_type is None:
        raise UndecodableEvent(f"unknown event type {env.type!r}")
    payload = payload_type()
    try:
        payload.ParseFromString(env.payload)
    except DecodeError as exc:
        raise UndecodableEvent(f"payload is not a {payload_type.__name__}: {exc}") from exc
    return Event(envelope=env, payload=payload)
