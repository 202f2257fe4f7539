"""item.ingested in runs (issue 3: an import's items a statement per table per run instead of a transaction per item):
the batch handler leaves exactly the rows the one-by-one handler leaves, for plain items of two projects with
different overlaps, a re-import inside the run and of an item known before, a gold item, an item imported accepted,
an item with predictions and a score that came before its item; and an unknown project fails the run (the consumer
then halves it down to that event, which is retried and dead-lettered alone)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
import pytest

from annotary.events.v1 import events_pb2
from annotary_common import topics
from annotary_common.events import Event
from annotary_orchestrator.entrypoints.bus import BATCHES, SUBSCRIPTIONS
from annotary_orchestrator.service_layer.events import UnknownProject

from .conftest import MakeProject, make_event

GOLD = json.dumps([{"type": "choice", "name": "label", "value": "yes"}])


def ingested(item_id: uuid.UUID, project_id: str, **extra: Any) -> Event:
    payload = events_pb2.ItemIngested(item=events_pb2.ItemSnapshot(
        item_id=str(item_id), project_id=project_id, external_id=f"x-{item_id}", modality="text", text="t"), **extra)
    return make_event(topics.ITEM_INGESTED, str(item_id), payload, producer="ingest")


async def rows_of(pool: asyncpg.Pool, ids: Sequence[uuid.UUID]) -> dict[str, list[tuple[Any, ...]]]:
    """What the handlers wrote for these items, without generated ids and times."""
    queries = {
        "items": "SELECT item_id, project_id, state, round, priority, snapshot, gold_json::text FROM items",
        "tasks": "SELECT item_id, project_id, slot, round, priority, score, feedback, state, gold FROM tasks",
        "history": "SELECT subject, item_id, task_id IS NULL, actor, from_state, to_state, reason FROM item_history",
        "predictions": "SELECT item_id, model_version, score, result_json::text FROM predictions",
    }
    out = {}
    async with pool.acquire() as conn:
        for name, sql in queries.items():
            out[name] = sorted(tuple(r) for r in await conn.fetch(f"{sql} WHERE item_id = ANY($1::uuid[])", list(ids)))
    return out


async def forget(pool: asyncpg.Pool, ids: Sequence[uuid.UUID]) -> None:
    async with pool.acquire() as conn:
        for table in ("tasks", "item_history", "predictions", "items"):
            await conn.execute(f"DELETE FROM {table} WHERE item_id = ANY($1::uuid[])", list(ids))


@pytest.mark.asyncio
async def test_a_run_writes_what_one_by_one_writes(pool: asyncpg.Pool, make_project: MakeProject) -> None:
    two, one = await make_project(overlap=2), await make_project(overlap=1)
    ids = [uuid.uuid4() for _ in range(12)]
    known = uuid.uuid4()  # ingested before the run
    async with pool.acquire() as conn, conn.transaction():
        await SUBSCRIPTIONS[topics.ITEM_INGESTED](conn, ingested(known, one))
        await conn.execute("INSERT INTO item_scores (item_id, project_id, score, model_version) VALUES ($1, $2, 0.75,"
                           " 'm1')", ids[3], uuid.UUID(two))  # the score came before its item
    prediction = events_pb2.Prediction(model_version="m1", score=0.5, result_json=GOLD)
    run = [
        ingested(ids[0], two), ingested(ids[1], one), ingested(ids[2], two), ingested(ids[3], two),
        ingested(ids[1], one),  # re-imported within the run
        ingested(ids[4], one, gold_json=GOLD), ingested(ids[5], two), ingested(ids[6], one, accepted=True),
        ingested(ids[7], two, predictions=[prediction]), ingested(known, one),
        *(ingested(i, two if n % 2 else one) for n, i in enumerate(ids[8:])),
    ]
    everything = [*ids, known]
    before_known = await rows_of(pool, [known])

    async with pool.acquire() as conn, conn.transaction():
        for event in run:
            await SUBSCRIPTIONS[topics.ITEM_INGESTED](conn, event)
    one_by_one = await rows_of(pool, everything)
    await forget(pool, ids)

    async with pool.acquire() as conn, conn.transaction():
        await BATCHES[topics.ITEM_INGESTED](conn, run)
    together = await rows_of(pool, everything)

    assert together == one_by_one
    assert await rows_of(pool, [known]) == before_known  # the re-import changed nothing
    tasks = {(r[0], r[5]) for r in together["tasks"]}
    assert (ids[3], 0.75) in tasks  # the early score orders its slots
    assert len([r for r in together["tasks"] if r[0] == ids[0]]) == 2  # overlap 2
    assert len(together["items"]) == 13 and len(together["predictions"]) == 1


@pytest.mark.asyncio
async def test_a_run_with_an_unknown_project_changes_nothing(pool: asyncpg.Pool, make_project: MakeProject) -> None:
    project = await make_project()
    good, stray = uuid.uuid4(), uuid.uuid4()
    with pytest.raises(UnknownProject, match="is not configured"):
        async with pool.acquire() as conn, conn.transaction():
            await BATCHES[topics.ITEM_INGESTED](conn, [ingested(good, project), ingested(stray, str(uuid.uuid4()))])
    assert await rows_of(pool, [good, stray]) == {"items": [], "tasks": [], "history": [], "predictions": []}
