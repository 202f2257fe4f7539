"""item.ingested handler against the real Postgres (127.0.0.1:5432, trust, user postgres), fresh database each test."""

from __future__ import annotations

import json

import asyncpg
import pytest

from annotary.events.v1 import events_pb2
from annotary_common.bus import PermanentError, apply_batch, apply_once
from annotary_common.events import Event, build_envelope, parse_event
from annotary_common.topics import ITEM_INGESTED, ITEM_PREANNOTATED
from annotary_preannotate.service_layer import predictions

pytestmark = pytest.mark.asyncio

BOX = [{"type": "bbox", "label": "cat", "x": 1, "y": 2, "w": 3, "h": 4}]
SPAN = [{"type": "span", "label": "PER", "start": 0, "end": 3, "score": 0.4}]


def iid(n: int) -> str:
    """Item ids are UUIDs (ingest's canonical id)."""
    return f"00000000-0000-4000-8000-{n:012d}"


def ingested(item_id: str, *preds: tuple[str, float, str]) -> Event:
    payload = events_pb2.ItemIngested(
        item=events_pb2.ItemSnapshot(item_id=item_id, project_id="p-1", modality="image", width=10, height=10),
        predictions=[events_pb2.Prediction(model_version=m, score=s, result_json=r) for m, s, r in preds],
    )
    return parse_event(build_envelope(ITEM_INGESTED, item_id, payload, "ingest").SerializeToString())


async def handle(pool: asyncpg.Pool, event: Event) -> None:
    """The consumer's own exactly-once step: inbox row and handler in one transaction."""
    await apply_once(pool, "annotary-preannotate:item.ingested", event, predictions.on_item_ingested)


async def outbox(pool: asyncpg.Pool) -> list[tuple[str, str, Event]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT topic, key, envelope FROM outbox ORDER BY id")
    return [(r["topic"], r["key"], parse_event(bytes(r["envelope"]))) for r in rows]


async def test_predictions_are_stored_and_announced(pool: asyncpg.Pool) -> None:
    await handle(pool, ingested(iid(1), ("m1", 0.9, json.dumps(BOX)), ("m2", 0.4, json.dumps(SPAN))))
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT item_id, model_version, project_id, score, result_json FROM predictions "
                                "ORDER BY model_version")
    assert [(str(r["item_id"]), r["model_version"], r["project_id"], r["score"]) for r in rows] == [
        (iid(1), "m1", "p-1", 0.9), (iid(1), "m2", "p-1", 0.4)]
    assert json.loads(rows[0]["result_json"]) == BOX

    [(topic, key, event)] = await outbox(pool)
    assert (topic, key, event.envelope.producer) == (ITEM_PREANNOTATED, iid(1), "preannotate")
    payload = event.payload
    assert isinstance(payload, events_pb2.ItemPreannotated)
    assert (payload.item_id, payload.project_id) == (iid(1), "p-1")
    assert [(p.model_version, p.score, json.loads(p.result_json)) for p in payload.predictions] == [
        ("m1", 0.9, BOX), ("m2", 0.4, SPAN)]


async def test_without_predictions_nothing_happens(pool: asyncpg.Pool) -> None:
    await handle(pool, ingested(iid(2)))
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM predictions") == 0
    assert await outbox(pool) == []


async def test_same_predictions_twice_are_stored_and_announced_once(pool: asyncpg.Pool) -> None:
    event = ingested(iid(3), ("m1", 0.9, json.dumps(BOX)))
    await handle(pool, event)
    await handle(pool, event)                                               # re-delivery: inbox
    await handle(pool, ingested(iid(3), ("m1", 0.1, "[]")))              # re-ingest: (item, version) kept
    await handle(pool, ingested(iid(3), ("m1", 0.9, json.dumps(BOX)), ("m2", 0.5, "[]")))  # only m2 is new
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM predictions") == 2
        assert await conn.fetchval("SELECT score FROM predictions WHERE model_version = 'm1'") == 0.9
    events = await outbox(pool)
    assert [[p.model_version for p in e.payload.predictions] for _, _, e in events  # type: ignore[attr-defined]
            ] == [["m1"], ["m2"]]


async def test_unstorable_predictions_are_skipped(pool: asyncpg.Pool) -> None:
    await handle(pool, ingested(iid(4), ("", 0.9, "[]"), ("m1", float("nan"), "[]"), ("m2", 0.5, "{"),
                                ("m3", 0.5, json.dumps(BOX))))
    [(_, _, event)] = await outbox(pool)
    assert isinstance(event.payload, events_pb2.ItemPreannotated)
    assert [p.model_version for p in event.payload.predictions] == ["m3"]


async def test_item_without_id_is_permanent(pool: asyncpg.Pool) -> None:
    with pytest.raises(PermanentError, match="item_id '' is not a UUID"):
        await handle(pool, ingested("", ("m1", 0.9, "[]")))
    with pytest.raises(PermanentError, match="item_id 'item-9' is not a UUID"):
        await handle(pool, ingested("item-9", ("m1", 0.9, "[]")))


def text_item(item_id: str, project: str, modality: str = "text", text: str = "a review", **more: str) -> Event:
    payload = events_pb2.ItemIngested(item=events_pb2.ItemSnapshot(item_id=item_id, project_id=project,
                                                                   modality=modality, text=text, **more))
    return parse_event(build_envelope(ITEM_INGESTED, item_id, payload, "ingest").SerializeToString())


async def test_a_run_of_items_is_kept_set_based_as_one_by_one_would(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute("INSERT INTO projects (project_id, serving_version) VALUES ('served', 'v1'), ('new', NULL)")
    run = [
        text_item(iid(10), "served"),
        text_item(iid(11), "new"),
        text_item(iid(12), "served", modality="video", text="", media_uri="s3://b/v.mp4"),  # not kept
        text_item(iid(13), "unknown"),                                                     # no project row yet
        text_item(iid(10), "served", text="re-imported in the same run"),                 # kept once
        text_item(iid(14), "served", modality="image", text="", media_uri="s3://b/i.png"),
        ingested(iid(15), ("m1", 0.9, json.dumps(BOX))),                                  # with a prediction
    ]
    applied = await apply_batch(pool, "annotary-preannotate:item.ingested", run, predictions.on_items_ingested)
    assert applied == len(run)
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT item_id, project_id, modality, text, needs_score FROM items ORDER BY item_id")
        stored = await conn.fetchval("SELECT count(*) FROM predictions")
    assert [(str(r["item_id"]), r["project_id"], r["modality"], r["text"], r["needs_score"]) for r in rows] == [
        (iid(10), "served", "text", "a review", True),
        (iid(11), "new", "text", "a review", False),
        (iid(13), "unknown", "text", "a review", False),
        (iid(14), "served", "image", "", True),
    ]
    assert stored == 1
    assert [(topic, key) for topic, key, _ in await outbox(pool)] == [(ITEM_PREANNOTATED, iid(15))]
    # the same run again (re-delivered): the inbox applies none of it
    assert await apply_batch(pool, "annotary-preannotate:item.ingested", run, predictions.on_items_ingested) == 0


async def test_a_run_with_a_bad_item_id_writes_nothing(pool: asyncpg.Pool) -> None:
    run = [text_item(iid(20), "p"), text_item("item-21", "p")]
    with pytest.raises(PermanentError, match="item_id 'item-21' is not a UUID"):
        await apply_batch(pool, "annotary-preannotate:item.ingested", run, predictions.on_items_ingested)
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM items") == 0
        assert await conn.fetchval("SELECT count(*) FROM inbox") == 0
