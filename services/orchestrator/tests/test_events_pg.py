"""The bus handlers on the real Postgres, each in one transaction as the consumer runs them."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import pytest
from google.protobuf.message import Message

from annotary.events.v1 import events_pb2
from annotary_common import topics
from annotary_common.bus import PermanentError
from annotary_common.events import Event, build_envelope
from annotary_orchestrator.entrypoints.bus import SUBSCRIPTIONS
from annotary_orchestrator.service_layer import leasing, submitting
from annotary_orchestrator.service_layer.events import UnknownProject

BOX = json.dumps([{"type": "bbox", "label": "cat", "x": 1, "y": 2, "w": 3, "h": 4}])


async def handle(pool: asyncpg.Pool, topic: str, payload: Message, key: str = "k", producer: str = "qa") -> None:
    event = Event(envelope=build_envelope(topic, key, payload, producer), payload=payload)
    async with pool.acquire() as conn, conn.transaction():
        await SUBSCRIPTIONS[topic](conn, event)


async def item_row(pool: asyncpg.Pool, item_id: str) -> asyncpg.Record:
    row = await pool.fetchrow("SELECT * FROM items WHERE item_id = $1", uuid.UUID(item_id))
    assert row is not None
    return row


async def slots(pool: asyncpg.Pool, item_id: str) -> list[tuple[int, int, str]]:
    rows = await pool.fetch("SELECT round, slot, state FROM tasks WHERE item_id = $1 ORDER BY round, slot",
                            uuid.UUID(item_id))
    return [(r["round"], r["slot"], r["state"]) for r in rows]


async def complete(pool: asyncpg.Pool, project_id: str, annotators: list[str]) -> events_pb2.ItemSnapshot:
    """Lease and submit one slot per annotator; returns the completed item's snapshot."""
    snapshot = None
    for who in annotators:
        async with pool.acquire() as conn:
            task = await leasing.lease_next_task(conn, project_id, who)
            assert task is not None
            await submitting.submit_task(conn, task.task_id, who, BOX, 10)
            snapshot = task.item
    assert snapshot is not None
    return snapshot


async def test_ingested_creates_the_item_its_slots_and_predictions_once(
        pool: asyncpg.Pool, make_project: Any, ingest: Any) -> None:
    pid = await make_project(overlap=3)
    item_id = await ingest(pid, "a.png", predictions=(("m1", 0.7, BOX),))
    row = await item_row(pool, item_id)
    assert (row["state"], row["round"], str(row["project_id"])) == ("unassigned", 1, pid)
    assert events_pb2.ItemSnapshot.FromString(bytes(row["snapshot"])).external_id == "a.png"
    assert await slots(pool, item_id) == [(1, 0, "unassigned"), (1, 1, "unassigned"), (1, 2, "unassigned")]
    # The same content imported again (a new event, the same item id) changes nothing but may add predictions.
    await ingest(pid, "a.png", item_id=item_id, predictions=(("m1", 0.1, "[]"), ("m2", 0.2, "[]")))
    assert len(await slots(pool, item_id)) == 3
    preds = await pool.fetch("SELECT model_version, score FROM predictions WHERE item_id = $1 ORDER BY 1",
                             uuid.UUID(item_id))
    assert [(p["model_version"], p["score"]) for p in preds] == [("m1", 0.7), ("m2", 0.2)]
    history = await pool.fetch("SELECT subject, from_state, to_state FROM item_history WHERE item_id = $1",
                               uuid.UUID(item_id))
    assert [tuple(h) for h in history] == [("item", None, "unassigned")]


async def test_ingested_already_accepted_starts_accepted_with_no_tasks(
        pool: asyncpg.Pool, make_project: Any) -> None:
    """An item imported with another tool's accepted annotation: no slots, nothing to lease, state accepted."""
    pid = await make_project(overlap=2)
    item_id = str(uuid.uuid4())
    payload = events_pb2.ItemIngested(
        item=events_pb2.ItemSnapshot(item_id=item_id, project_id=pid, external_id="done.txt", modality="text",
                                     text="already labeled"), accepted=True)
    await handle(pool, topics.ITEM_INGESTED, payload, key=item_id, producer="ingest")
    await handle(pool, topics.ITEM_INGESTED, payload, key=item_id, producer="ingest")  # redelivered: no change
    assert (await item_row(pool, item_id))["state"] == "accepted"
    assert await slots(pool, item_id) == []
    async with pool.acquire() as conn:
        assert await leasing.lease_next_task(conn, pid, "ann") is None
    history = await pool.fetch("SELECT from_state, to_state, reason FROM item_history WHERE item_id = $1",
                               uuid.UUID(item_id))
    assert [(h["from_state"], h["to_state"]) for h in history] == [(None, "accepted")]
    assert "no labeling tasks" in history[0]["reason"]


async def test_ingested_for_an_unknown_project_is_retried_not_stored(pool: asyncpg.Pool, ingest: Any) -> None:
    with pytest.raises(UnknownProject) as info:
        await ingest(str(uuid.uuid4()), "lost")
    assert not isinstance(info.value, PermanentError)


async def test_ingested_with_bad_content_is_dead_lettered(pool: asyncpg.Pool, make_project: Any) -> None:
    pid = await make_project()
    bad_id = events_pb2.ItemIngested(item=events_pb2.ItemSnapshot(item_id="x", project_id=pid))
    with pytest.raises(PermanentError, match=r"item\.item_id must be a UUID"):
        await handle(pool, topics.ITEM_INGESTED, bad_id)
    item_id = str(uuid.uuid4())
    bad_pred = events_pb2.ItemIngested(item=events_pb2.ItemSnapshot(item_id=item_id, project_id=pid),
                                       predictions=[events_pb2.Prediction(model_version="m", result_json="{}")])
    with pytest.raises(PermanentError, match=r"predictions\[0\].result_json"):
        await handle(pool, topics.ITEM_INGESTED, bad_pred)
    assert await pool.fetchval("SELECT count(*) FROM items WHERE item_id = $1", uuid.UUID(item_id)) == 0


async def test_preannotated_upserts_by_model_version(pool: asyncpg.Pool, make_project: Any, ingest: Any) -> None:
    pid = await make_project()
    item_id = await ingest(pid, "p", predictions=(("m1", 0.5, "[]"),))
    for score in (0.6, 0.9):
        await handle(pool, topics.ITEM_PREANNOTATED, events_pb2.ItemPreannotated(
            item_id=item_id, project_id=pid,
            predictions=[events_pb2.Prediction(model_version="m1", score=score, result_json=BOX),
                         events_pb2.Prediction(model_version="m2", score=0.1, result_json="[]")]))
    async with pool.acquire() as conn:
        task = await leasing.lease_next_task(conn, pid, "alice")
    assert task is not None
    assert [(p.model_version, p.score) for p in task.predictions] == [("m1", 0.9), ("m2", 0.1)]
    assert json.loads(task.predictions[0].result_json) == json.loads(BOX)


async def test_accepted_after_review(pool: asyncpg.Pool, make_project: Any, ingest: Any) -> None:
    pid = await make_project(overlap=2)
    item_id = await ingest(pid, "r")
    snap = await complete(pool, pid, ["alice", "bob"])
    await handle(pool, topics.REVIEW_REQUIRED, events_pb2.ReviewRequired(item=snap, round=1, reason="disagree"))
    assert (await item_row(pool, item_id))["state"] == "under_review"
    await handle(pool, topics.ANNOTATION_ACCEPTED, events_pb2.AnnotationAccepted(item=snap, round=1, agreement=0.5))
    assert (await item_row(pool, item_id))["state"] == "accepted"
    # A second accepted for the same round (another event id) is a logged no-op.
    await handle(pool, topics.ANNOTATION_ACCEPTED, events_pb2.AnnotationAccepted(item=snap, round=1))
    history = await pool.fetch("SELECT actor, from_state, to_state, reason FROM item_history WHERE item_id = $1"
                               " AND subject = 'item' ORDER BY id", uuid.UUID(item_id))
    assert [(h["from_state"], h["to_state"]) for h in history][-2:] == [("submitted", "under_review"),
                                                                      ("under_review", "accepted")]
    assert history[-2]["reason"] == "disagree" and history[-1]["actor"] == "qa"


async def test_rejected_starts_a_new_round_with_fresh_slots(
        pool: asyncpg.Pool, make_project: Any, ingest: Any) -> None:
    pid = await make_project(overlap=1)
    item_id = await ingest(pid, "again")
    snap = await complete(pool, pid, ["alice"])
    await handle(pool, topics.ANNOTATION_REJECTED, events_pb2.AnnotationRejected(
        item=snap, round=1, reason="boxes too loose", reviewer_id="rev-1"))
    row = await item_row(pool, item_id)
    assert (row["state"], row["round"]) == ("unassigned", 2)
    assert await slots(pool, item_id) == [(1, 0, "submitted"), (2, 0, "unassigned")]
    history = await pool.fetch("SELECT actor, from_state, to_state, reason FROM item_history WHERE item_id = $1"
                               " AND subject = 'item' ORDER BY id", uuid.UUID(item_id))
    assert [(h["actor"], h["from_state"], h["to_state"]) for h in history][-2:] == [
        ("rev-1", "submitted", "rejected"), ("orchestrator", "rejected", "unassigned")]
    assert "boxes too loose" in history[-1]["reason"]
    # An event about round 1 is now stale: ignored.
    await handle(pool, topics.ANNOTATION_ACCEPTED, events_pb2.AnnotationAccepted(item=snap, round=1))
    assert (await item_row(pool, item_id))["state"] == "unassigned"
    # Round 2: the same annotator may work on it again; completing it emits task.submitted with round 2.
    await complete(pool, pid, ["alice"])
    envelopes = [events_pb2.Envelope.FromString(bytes(r["envelope"]))
                 for r in await pool.fetch("SELECT envelope FROM outbox WHERE key = $1 ORDER BY id", item_id)]
    assert [events_pb2.TaskSubmitted.FromString(e.payload).round for e in envelopes] == [1, 2]
    await handle(pool, topics.ANNOTATION_ACCEPTED, events_pb2.AnnotationAccepted(item=snap, round=2))
    assert (await item_row(pool, item_id))["state"] == "accepted"


async def test_illegal_outcomes_are_dead_lettered(pool: asyncpg.Pool, make_project: Any, ingest: Any) -> None:
    pid = await make_project()
    item_id = await ingest(pid, "early")
    snap = events_pb2.ItemSnapshot(item_id=item_id, project_id=pid)
    with pytest.raises(PermanentError, match="illegal item transition 'unassigned' -> 'accepted'"):
        await handle(pool, topics.ANNOTATION_ACCEPTED, events_pb2.AnnotationAccepted(item=snap, round=1))
    unknown = events_pb2.ItemSnapshot(item_id=str(uuid.uuid4()), project_id=pid)
    with pytest.raises(PermanentError, match="unknown item"):
        await handle(pool, topics.REVIEW_REQUIRED, events_pb2.ReviewRequired(item=unknown, round=1))
    assert (await item_row(pool, item_id))["state"] == "unassigned"
