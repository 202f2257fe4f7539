"""The inbox: an event's effect is applied once, in the same transaction as its inbox row."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from annotary.events.v1 import events_pb2
from annotary_common.bus import apply_once
from annotary_common.events import Event, build_envelope, parse_event
from annotary_common.topics import ITEM_INGESTED


def ingested(item_id: str) -> Event:
    payload = events_pb2.ItemIngested(item=events_pb2.ItemSnapshot(item_id=item_id, project_id="p"))
    return parse_event(build_envelope(ITEM_INGESTED, item_id, payload, "test").SerializeToString())


async def record(conn: asyncpg.Connection, event: Event) -> None:
    await conn.execute("INSERT INTO applied (event_id, item_id) VALUES ($1, $2)", uuid.UUID(event.event_id), "x")


async def applied(pool: asyncpg.Pool) -> list[str]:
    return [str(r["event_id"]) for r in await pool.fetch("SELECT event_id FROM applied ORDER BY event_id")]


async def test_a_redelivered_event_is_applied_once(pool: asyncpg.Pool) -> None:
    event = ingested("item-1")
    assert await apply_once(pool, "g1", event, record) is True
    assert await apply_once(pool, "g1", event, record) is False
    assert await applied(pool) == [event.event_id]


async def test_each_consumer_group_applies_the_event_for_itself(pool: asyncpg.Pool) -> None:
    event = ingested("item-2")
    assert await apply_once(pool, "g1", event, record) is True
    assert await apply_once(pool, "g2", event, record) is True
    assert len(await applied(pool)) == 2


async def test_a_failing_handler_leaves_no_inbox_row_so_a_retry_applies_it(pool: asyncpg.Pool) -> None:
    event = ingested("item-3")

    async def half_then_fail(conn: asyncpg.Connection, ev: Event) -> None:
        await record(conn, ev)
        raise RuntimeError("handler failed after writing")

    with pytest.raises(RuntimeError):
        await apply_once(pool, "g1", event, half_then_fail)
    assert await applied(pool) == []  # the partial effect rolled back with the inbox row
    assert await apply_once(pool, "g1", event, record) is True
    assert await applied(pool) == [event.event_id]
