"""The whole transition tables on the real Postgres.

1. Every (from, to) pair of the item and task machines through the writers (``set_item_state``,
   ``transition_task``): a legal one changes the row and writes its history row (who, from, to, why); an illegal one
   raises IllegalTransition and changes nothing.
2. Every legal transition reached through the real operation that causes it (lease, submit, skip, expiry, pause,
   QA's events), checked in the history table.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from google.protobuf.message import Message

from annotary.events.v1 import events_pb2
from annotary.orchestrator.v1 import orchestrator_pb2
from annotary_common import topics
from annotary_common.bus import PermanentError
from annotary_common.events import Event, build_envelope
from annotary_orchestrator.domain.states import IllegalTransition, ItemState, TaskState
from annotary_orchestrator.entrypoints.bus import SUBSCRIPTIONS
from annotary_orchestrator.service_layer import leasing, reaper, submitting
from annotary_orchestrator.service_layer.common import lock_item, set_item_state
from annotary_orchestrator.service_layer.transitions import lock_task, transition_task

# The legal pairs, spelled out (as in test_states.py); everything else is illegal.
LEGAL_ITEM = [
    ("unassigned", "assigned"), ("assigned", "in_progress"), ("assigned", "submitted"), ("assigned", "unassigned"),
    ("in_progress", "submitted"), ("submitted", "under_review"), ("submitted", "accepted"),
    ("submitted", "rejected"), ("under_review", "accepted"), ("under_review", "rejected"), ("rejected", "unassigned"),
]
ILLEGAL_ITEM = [(s.value, t.value) for s in ItemState for t in ItemState if (s.value, t.value) not in LEGAL_ITEM]
LEGAL_TASK = [("unassigned", "assigned"), ("assigned", "unassigned"), ("assigned", "submitted")]
ILLEGAL_TASK = [(s.value, t.value) for s in TaskState for t in TaskState if (s.value, t.value) not in LEGAL_TASK]

BOX = json.dumps([{"type": "bbox", "label": "cat", "x": 1, "y": 2, "w": 3, "h": 4}])


async def handle(pool: asyncpg.Pool, topic: str, payload: Message, producer: str = "qa") -> None:
    """The bus handler of ``topic`` in one transaction, as the consumer runs it."""
    async with pool.acquire() as conn, conn.transaction():
        await SUBSCRIPTIONS[topic](conn, Event(envelope=build_envelope(topic, "k", payload, producer), payload=payload))


async def history(pool: asyncpg.Pool, item_id: str, subject: str) -> list[tuple[str, str | None, str, str]]:
    rows = await pool.fetch("SELECT actor, from_state, to_state, reason FROM item_history WHERE item_id = $1"
                            " AND subject = $2 ORDER BY id", uuid.UUID(item_id), subject)
    return [(r["actor"], r["from_state"], r["to_state"], r["reason"]) for r in rows]


# -- 1. the tables, pair by pair ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("source", "target"), [*LEGAL_ITEM, *ILLEGAL_ITEM])
async def test_item_transition_table(pool: asyncpg.Pool, make_project: Any, ingest: Any, source: str,
                                     target: str) -> None:
    pid = await make_project()
    item_id = await ingest(pid, "t")
    await pool.execute("UPDATE items SET state = $2 WHERE item_id = $1", uuid.UUID(item_id), source)
    before = await history(pool, item_id, "item")
    async with pool.acquire() as conn, conn.transaction():
        item = await lock_item(conn, uuid.UUID(item_id))
        assert item is not None and item.state == source
        if (source, target) in LEGAL_ITEM:
            await set_item_state(conn, item, ItemState(target), actor="tester", reason="table test")
        else:
            with pytest.raises(IllegalTransition, match=f"'{source}' -> '{target}'"):
                await set_item_state(conn, item, ItemState(target), actor="tester", reason="table test")
    state = await pool.fetchval("SELECT state FROM items WHERE item_id = $1", uuid.UUID(item_id))
    after = await history(pool, item_id, "item")
    if (source, target) in LEGAL_ITEM:
        assert state == target
        assert after == [*before, ("tester", source, target, "table test")]
    else:
        assert state == source and after == before


_TASK_SETUP = {
    "unassigned": "UPDATE tasks SET state = 'unassigned', annotator_id = NULL WHERE task_id = $1",
    "assigned": "UPDATE tasks SET state = 'assigned', annotator_id = 'holder', lease_expires_at = now() + interval '1m'"
                " WHERE task_id = $1",
    "submitted": "UPDATE tasks SET state = 'submitted', annotator_id = 'holder', result_json = '[]' WHERE task_id = $1",
}


@pytest.mark.parametrize(("source", "target"), [*LEGAL_TASK, *ILLEGAL_TASK])
async def test_task_transition_table(pool: asyncpg.Pool, make_project: Any, ingest: Any, source: str,
                                     target: str) -> None:
    pid = await make_project()
    item_id = await ingest(pid, "t")
    task_id = await pool.fetchval("SELECT task_id FROM tasks WHERE item_id = $1", uuid.UUID(item_id))
    await pool.execute(_TASK_SETUP[source], task_id)
    before = await history(pool, item_id, "task")
    async with pool.acquire() as conn, conn.transaction():
        task = await lock_task(conn, task_id)
        if (source, target) in LEGAL_TASK:
            await transition_task(conn, task, target, actor="holder", reason="table test")
        else:
            with pytest.raises(IllegalTransition, match=f"illegal task transition '{source}' -> '{target}'"):
                await transition_task(conn, task, target, actor="holder", reason="table test")
    row = await pool.fetchrow("SELECT state, annotator_id FROM tasks WHERE task_id = $1", task_id)
    after = await history(pool, item_id, "task")
    if (source, target) in LEGAL_TASK:
        assert row["state"] == target
        assert (row["annotator_id"] is None) == (target == "unassigned")
        assert after[:-1] == before and after[-1][:3] == ("holder", source, target)
    else:
        assert row["state"] == source and after == before


# -- 2. every legal transition through the operation that causes it --------------------------------------------

async def lease(pool: asyncpg.Pool, pid: str, who: str) -> orchestrator_pb2.Task:
    async with pool.acquire() as conn:
        task = await leasing.lease_next_task(conn, pid, who)
    assert task is not None
    return task


async def submit(pool: asyncpg.Pool, task: orchestrator_pb2.Task) -> None:
    async with pool.acquire() as conn:
        await submitting.submit_task(conn, task.task_id, task.annotator_id, BOX, 10)


async def to_submitted(pool: asyncpg.Pool, pid: str, overlap: int) -> events_pb2.ItemSnapshot:
    tasks = [await lease(pool, pid, f"ann-{n}") for n in range(overlap)]
    for task in tasks:
        await submit(pool, task)
    return tasks[0].item


Scenario = Callable[[asyncpg.Pool, str], Awaitable[None]]


async def _lease_first(pool: asyncpg.Pool, pid: str) -> None:
    await lease(pool, pid, "alice")


async def _skip_only_lease(pool: asyncpg.Pool, pid: str) -> None:
    task = await lease(pool, pid, "alice")
    async with pool.acquire() as conn:
        await leasing.skip_task(conn, task.task_id, "alice", "unclear")


async def _one_of_two_submitted(pool: asyncpg.Pool, pid: str) -> None:
    a = await lease(pool, pid, "alice")
    await lease(pool, pid, "bob")
    await submit(pool, a)


async def _both_submitted(pool: asyncpg.Pool, pid: str) -> None:
    await to_submitted(pool, pid, 2)


async def _only_slot_submitted(pool: asyncpg.Pool, pid: str) -> None:
    await to_submitted(pool, pid, 1)


async def _review(pool: asyncpg.Pool, pid: str) -> None:
    snap = await to_submitted(pool, pid, 1)
    await handle(pool, topics.REVIEW_REQUIRED, events_pb2.ReviewRequired(item=snap, round=1, reason="check"))


async def _accept(pool: asyncpg.Pool, pid: str) -> None:
    snap = await to_submitted(pool, pid, 1)
    await handle(pool, topics.ANNOTATION_ACCEPTED, events_pb2.AnnotationAccepted(item=snap, round=1))


async def _reject(pool: asyncpg.Pool, pid: str) -> None:
    snap = await to_submitted(pool, pid, 1)
    await handle(pool, topics.ANNOTATION_REJECTED, events_pb2.AnnotationRejected(item=snap, round=1, reason="no"))


async def _accept_after_review(pool: asyncpg.Pool, pid: str) -> None:
    snap = await to_submitted(pool, pid, 1)
    await handle(pool, topics.REVIEW_REQUIRED, events_pb2.ReviewRequired(item=snap, round=1))
    await handle(pool, topics.ANNOTATION_ACCEPTED, events_pb2.AnnotationAccepted(item=snap, round=1))


async def _reject_after_review(pool: asyncpg.Pool, pid: str) -> None:
    snap = await to_submitted(pool, pid, 1)
    await handle(pool, topics.REVIEW_REQUIRED, events_pb2.ReviewRequired(item=snap, round=1))
    await handle(pool, topics.ANNOTATION_REJECTED, events_pb2.AnnotationRejected(item=snap, round=1, reason="no"))


# (from, to) -> (overlap, the operations, the item's history rows it must end with)
ITEM_ROUTES: dict[tuple[str, str], tuple[int, Scenario, list[tuple[str, str]]]] = {
    ("unassigned", "assigned"): (1, _lease_first, [("unassigned", "assigned")]),
    ("assigned", "unassigned"): (1, _skip_only_lease, [("unassigned", "assigned"), ("assigned", "unassigned")]),
    ("assigned", "in_progress"): (2, _one_of_two_submitted, [("unassigned", "assigned"), ("assigned", "in_progress")]),
    ("assigned", "submitted"): (1, _only_slot_submitted, [("unassigned", "assigned"), ("assigned", "submitted")]),
    ("in_progress", "submitted"): (2, _both_submitted, [("assigned", "in_progress"), ("in_progress", "submitted")]),
    ("submitted", "under_review"): (1, _review, [("assigned", "submitted"), ("submitted", "under_review")]),
    ("submitted", "accepted"): (1, _accept, [("assigned", "submitted"), ("submitted", "accepted")]),
    ("submitted", "rejected"): (1, _reject, [("submitted", "rejected"), ("rejected", "unassigned")]),
    ("under_review", "accepted"): (1, _accept_after_review, [("submitted", "under_review"),
                                                             ("under_review", "accepted")]),
    ("under_review", "rejected"): (1, _reject_after_review, [("under_review", "rejected"),
                                                             ("rejected", "unassigned")]),
    ("rejected", "unassigned"): (1, _reject, [("submitted", "rejected"), ("rejected", "unassigned")]),
}


def test_every_legal_item_transition_has_a_route() -> None:
    assert sorted(ITEM_ROUTES) == sorted(LEGAL_ITEM)


@pytest.mark.parametrize(("source", "target"), LEGAL_ITEM)
async def test_legal_item_transition_through_its_operation(pool: asyncpg.Pool, make_project: Any, ingest: Any,
                                                           source: str, target: str) -> None:
    overlap, scenario, tail = ITEM_ROUTES[(source, target)]
    pid = await make_project(overlap=overlap)
    item_id = await ingest(pid, "route")
    await scenario(pool, pid)
    rows = [(f, t) for _, f, t, _ in await history(pool, item_id, "item")]
    assert rows[0] == (None, "unassigned")
    assert rows[-len(tail):] == tail, rows


@pytest.mark.parametrize("cause", ["skip", "expiry", "pause"])
async def test_assigned_to_unassigned_task_by_each_cause(pool: asyncpg.Pool, make_project: Any, ingest: Any,
                                                         cause: str) -> None:
    pid = await make_project()
    item_id = await ingest(pid, "release")
    task = await lease(pool, pid, "alice")
    if cause == "skip":
        async with pool.acquire() as conn:
            await leasing.skip_task(conn, task.task_id, "alice", "too hard")
        expected = ("alice", "skipped: too hard")
    elif cause == "expiry":
        await pool.execute("UPDATE tasks SET lease_expires_at = now() - interval '1s' WHERE task_id = $1",
                           uuid.UUID(task.task_id))
        assert await reaper.reap_once(pool) == 1
        expected = ("orchestrator", "lease of 'alice' expired")
    else:
        await handle(pool, topics.ANNOTATOR_PAUSED, events_pb2.AnnotatorPaused(
            project_id=pid, annotator_id="alice", paused=True, reason="low accuracy", actor="qa"))
        expected = ("qa", "annotator paused: low accuracy")
    tasks = await history(pool, item_id, "task")
    assert [(f, t) for _, f, t, _ in tasks] == [("unassigned", "assigned"), ("assigned", "unassigned")]
    assert (tasks[-1][0], tasks[-1][3]) == expected
    items = await history(pool, item_id, "item")
    assert items[-1][1:3] == ("assigned", "unassigned")
    with pytest.raises(Exception, match="lease lost"):
        await submit(pool, task)


async def test_task_submitted_and_assigned_through_operations(pool: asyncpg.Pool, make_project: Any,
                                                              ingest: Any) -> None:
    pid = await make_project()
    item_id = await ingest(pid, "plain")
    await submit(pool, await lease(pool, pid, "alice"))
    assert [r[:3] for r in await history(pool, item_id, "task")] == [
        ("alice", "unassigned", "assigned"), ("alice", "assigned", "submitted")]


async def test_illegal_transitions_requested_by_events_are_refused(pool: asyncpg.Pool, make_project: Any,
                                                                   ingest: Any) -> None:
    pid = await make_project()
    item_id = await ingest(pid, "early")
    snap = events_pb2.ItemSnapshot(item_id=item_id, project_id=pid)
    for topic, payload in [(topics.ANNOTATION_ACCEPTED, events_pb2.AnnotationAccepted(item=snap, round=1)),
                           (topics.ANNOTATION_REJECTED, events_pb2.AnnotationRejected(item=snap, round=1)),
                           (topics.REVIEW_REQUIRED, events_pb2.ReviewRequired(item=snap, round=1))]:
        with pytest.raises(PermanentError, match="illegal item transition 'unassigned' -> "):
            await handle(pool, topic, payload)
    assert await history(pool, item_id, "item") == [
        ("test", None, "unassigned", "ingested with 1 slot(s) for round 1")]
    state = await pool.fetchval("SELECT state FROM items WHERE item_id = $1", uuid.UUID(item_id))
    assert state == ItemState.UNASSIGNED and TaskState.UNASSIGNED == "unassigned"
