"""annotation.accepted in runs (issue 3: the consumer's statements per accepted item): a run leaves exactly the
item states and history the one-event handler leaves (a repeated outcome, a stale round, an item under review), and
a run with an illegal outcome changes nothing (the consumer then halves it down to that event, dead-lettered
alone)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest
from google.protobuf.message import Message

from annotary.events.v1 import events_pb2
from annotary_common import topics
from annotary_common.bus import PermanentError
from annotary_common.events import Event
from annotary_orchestrator.entrypoints.bus import BATCHES, SUBSCRIPTIONS

from .conftest import make_event
from .test_events_pg import complete, handle


def accepted(snapshot: events_pb2.ItemSnapshot, round_: int = 1, agreement: float = 1.0) -> Event:
    payload: Message = events_pb2.AnnotationAccepted(item=snapshot, round=round_, agreement=agreement)
    return make_event(topics.ANNOTATION_ACCEPTED, snapshot.item_id, payload, producer="qa")


async def setup(pool: asyncpg.Pool, make_project: Any, ingest: Any) -> tuple[list[events_pb2.ItemSnapshot], str]:
    """Four submitted items (the last one under review) and one nobody worked on yet."""
    project = await make_project(overlap=1)
    for n in range(5):
        await ingest(project, f"item-{n}")
    done = [await complete(pool, project, [f"ann-{n}"]) for n in range(4)]
    await handle(pool, topics.REVIEW_REQUIRED, events_pb2.ReviewRequired(item=done[3], round=1, reason="split"))
    return done, project


async def outcome(pool: asyncpg.Pool, project: str, names: dict[str, str]) -> list[tuple[Any, ...]]:
    """The project's item states and item history, item ids replaced by their names."""
    rows = await pool.fetch(
        "SELECT i.item_id::text AS item, i.state, i.round, h.actor, h.from_state, h.to_state, h.reason"
        " FROM items i JOIN item_history h USING (item_id) WHERE i.project_id = $1 AND h.subject = 'item'"
        " ORDER BY i.item_id, h.id", uuid.UUID(project))
    return sorted((names.get(r["item"], "untouched"), *tuple(r)[1:]) for r in rows)


@pytest.mark.asyncio
async def test_a_run_leaves_what_one_by_one_leaves(pool: asyncpg.Pool, make_project: Any, ingest: Any) -> None:
    results = []
    for in_runs in (False, True):
        done, project = await setup(pool, make_project, ingest)
        run = [accepted(done[1], agreement=0.8), accepted(done[0]), accepted(done[1]),  # b twice: a no-op
               accepted(done[2], round_=2),  # a round c never had: ignored
               accepted(done[3], agreement=0.5)]  # from under_review
        if in_runs:
            async with pool.acquire() as conn, conn.transaction():
                await BATCHES[topics.ANNOTATION_ACCEPTED](conn, run)
        else:
            for event in run:
                async with pool.acquire() as conn, conn.transaction():
                    await SUBSCRIPTIONS[topics.ANNOTATION_ACCEPTED](conn, event)
        results.append(await outcome(pool, project, {s.item_id: "abcd"[n] for n, s in enumerate(done)}))
    one_by_one, together = results
    assert together == one_by_one
    states = {(r[0], r[1]) for r in together}
    assert {("a", "accepted"), ("b", "accepted"), ("c", "submitted"), ("d", "accepted")} <= states
    assert [r[6] for r in together if r[0] == "b" and r[5] == "accepted"] == ["accepted (agreement 0.800)"]


@pytest.mark.asyncio
async def test_a_run_with_an_illegal_outcome_changes_nothing(
        pool: asyncpg.Pool, make_project: Any, ingest: Any) -> None:
    done, project = await setup(pool, make_project, ingest)
    untouched = await pool.fetchval("SELECT item_id::text FROM items WHERE project_id = $1 AND state = 'unassigned'",
                                    uuid.UUID(project))
    early = events_pb2.ItemSnapshot(item_id=untouched, project_id=project)
    before = await outcome(pool, project, {})
    with pytest.raises(PermanentError, match="illegal item transition 'unassigned' -> 'accepted'"):
        async with pool.acquire() as conn, conn.transaction():
            await BATCHES[topics.ANNOTATION_ACCEPTED](conn, [accepted(done[0]), accepted(early)])
    with pytest.raises(PermanentError, match="unknown item"):
        async with pool.acquire() as conn, conn.transaction():
            await BATCHES[topics.ANNOTATION_ACCEPTED](conn, [accepted(done[0]), accepted(events_pb2.ItemSnapshot(
                item_id=str(uuid.uuid4()), project_id=project))])
    assert await outcome(pool, project, {}) == before
