"""Assignment on the real Postgres: K leases, caps, the reaper, priorities and scores, gold items, qualification,
pause and resume, provenance of submissions, feedback and the item history."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import pytest
from google.protobuf.message import Message

from annotary.events.v1 import events_pb2
from annotary.orchestrator.v1 import orchestrator_pb2
from annotary_common import topics
from annotary_common.bus import PermanentError
from annotary_common.events import Event, build_envelope
from annotary_common.grpc_util import FailedPrecondition, InvalidArgument, NotFound
from annotary_orchestrator.domain.policy import Policy
from annotary_orchestrator.entrypoints.bus import SUBSCRIPTIONS
from annotary_orchestrator.service_layer import leasing, projects, reaper, submitting, views
from annotary_orchestrator.service_layer.leasing import LeaseOutcome
from annotary_orchestrator.service_layer.submitting import SubmitOutcome

BOX = json.dumps([{"type": "bbox", "label": "cat", "x": 1, "y": 2, "w": 3, "h": 4}])
GOLD = json.dumps([{"type": "choice", "name": "animal", "value": "cat"}])


async def handle(pool: asyncpg.Pool, topic: str, payload: Message, producer: str = "qa") -> None:
    async with pool.acquire() as conn, conn.transaction():
        await SUBSCRIPTIONS[topic](conn, Event(envelope=build_envelope(topic, "k", payload, producer), payload=payload))


async def lease_k(pool: asyncpg.Pool, pid: str, who: str, count: int = 1) -> LeaseOutcome:
    async with pool.acquire() as conn:
        return await leasing.lease_next_tasks(conn, pid, who, count)


async def lease1(pool: asyncpg.Pool, pid: str, who: str) -> orchestrator_pb2.Task:
    outcome = await lease_k(pool, pid, who)
    assert outcome.found, f"nothing for {who}: {outcome.reason}"
    return outcome.tasks[0]


async def submit(pool: asyncpg.Pool, task: orchestrator_pb2.Task, result: str = BOX) -> SubmitOutcome:
    async with pool.acquire() as conn:
        return await submitting.submit_task(conn, task.task_id, task.annotator_id, result, 100)


async def expire(pool: asyncpg.Pool, task_ids: list[str]) -> None:
    await pool.execute("UPDATE tasks SET lease_expires_at = now() - interval '1 second' WHERE task_id = ANY($1)",
                       [uuid.UUID(t) for t in task_ids])


async def events_of(pool: asyncpg.Pool, item_id: str) -> list[tuple[str, events_pb2.TaskSubmitted]]:
    rows = await pool.fetch("SELECT envelope FROM outbox WHERE key = $1 ORDER BY id", item_id)
    out = []
    for row in rows:
        env = events_pb2.Envelope.FromString(bytes(row["envelope"]))
        out.append((env.event_id, events_pb2.TaskSubmitted.FromString(env.payload)))
    return out


# -- K leases and caps ---------------------------------------------------------------------------------------------

async def test_lease_k_returns_held_oldest_first_and_tops_up(pool: asyncpg.Pool, make_project: Any,
                                                             ingest: Any) -> None:
    pid = await make_project(max_active_per_annotator=4)
    names = [f"k{n}" for n in range(6)]
    for name in names:
        await ingest(pid, name)
    first = await lease_k(pool, pid, "alice", 2)
    assert [t.item.external_id for t in first.tasks] == ["k0", "k1"] and first.reason == ""
    again = await lease_k(pool, pid, "alice", 3)  # the two held ones, oldest first, plus one new
    assert [t.item.external_id for t in again.tasks] == ["k0", "k1", "k2"]
    assert again.tasks[0].task_id == first.tasks[0].task_id
    assert again.tasks[0].lease_expires_at == first.tasks[0].lease_expires_at
    one = await lease_k(pool, pid, "alice", 1)  # fewer than held: the oldest, nothing new
    assert [t.item.external_id for t in one.tasks] == ["k0"]
    capped = await lease_k(pool, pid, "alice", 50)  # capped by max_active_per_annotator
    assert [t.item.external_id for t in capped.tasks] == ["k0", "k1", "k2", "k3"]
    assert await pool.fetchval("SELECT count(*) FROM tasks WHERE project_id = $1 AND annotator_id = 'alice'",
                               uuid.UUID(pid)) == 4
    await submit(pool, capped.tasks[0])
    after = await lease_k(pool, pid, "alice", 4)
    assert [t.item.external_id for t in after.tasks] == ["k1", "k2", "k3", "k4"]
    with pytest.raises(InvalidArgument, match="count must be between"):
        await lease_k(pool, pid, "alice", -1)


async def test_max_items_per_annotator_caps_submissions(pool: asyncpg.Pool, make_project: Any, ingest: Any) -> None:
    pid = await make_project(max_items_per_annotator=2)
    for n in range(5):
        await ingest(pid, f"c{n}")
    got = await lease_k(pool, pid, "alice", 5)
    assert len(got.tasks) == 2, "two leases fill the cap"
    for task in got.tasks:
        await submit(pool, task)
    nothing = await lease_k(pool, pid, "alice", 1)
    assert not nothing.found and nothing.reason == "cap reached"
    assert (await lease_k(pool, pid, "bob", 1)).found
    drained = await make_project()
    assert (await lease_k(pool, drained, "alice")).reason == "empty"


# -- expiry, the reaper, heartbeats --------------------------------------------------------------------------------

async def test_reaper_requeues_expired_leases_with_history(pool: asyncpg.Pool, make_project: Any,
                                                           ingest: Any) -> None:
    pid = await make_project(overlap=2)
    item_id = await ingest(pid, "r")
    a = await lease1(pool, pid, "alice")
    b = await lease1(pool, pid, "bob")
    await expire(pool, [a.task_id])
    assert await reaper.reap_once(pool) >= 1
    async with pool.acquire() as conn:
        view = await views.get_task(conn, a.task_id)
    assert view.state == "unassigned" and view.annotator_id == "" and view.item_state == "assigned"  # bob still on it
    await expire(pool, [b.task_id])
    await reaper.reap_once(pool)
    rows = await pool.fetch("SELECT subject, actor, from_state, to_state, reason FROM item_history WHERE item_id = $1"
                            " ORDER BY id", uuid.UUID(item_id))
    tail = [(r["subject"], r["actor"], r["from_state"], r["to_state"], r["reason"]) for r in rows][-3:]
    assert tail == [
        ("task", "orchestrator", "assigned", "unassigned", "lease of 'alice' expired"),
        ("task", "orchestrator", "assigned", "unassigned", "lease of 'bob' expired"),
        ("item", "orchestrator", "assigned", "unassigned", "no lease left (lease of 'bob' expired)"),
    ]
    with pytest.raises(FailedPrecondition, match="lease lost"):
        await submit(pool, a)
    async with pool.acquire() as conn:
        with pytest.raises(FailedPrecondition, match="lease lost"):
            await leasing.heartbeat(conn, b.task_id, "bob")
    # Back in the queue for anyone, the old holders included (they never submitted).
    c = await lease1(pool, pid, "carol")
    assert c.item.item_id == item_id
    assert await reaper.reap_once(pool) == 0


async def test_heartbeat_keeps_a_lease_from_the_reaper(pool: asyncpg.Pool, make_project: Any, ingest: Any) -> None:
    pid = await make_project(lease_seconds=30)
    await ingest(pid, "h")
    task = await lease1(pool, pid, "alice")
    await pool.execute("UPDATE tasks SET lease_expires_at = now() + interval '1 second' WHERE task_id = $1",
                       uuid.UUID(task.task_id))
    async with pool.acquire() as conn:
        expires = await leasing.heartbeat(conn, task.task_id, "alice")
        with pytest.raises(FailedPrecondition):
            await leasing.heartbeat(conn, task.task_id, "bob")
    left = await pool.fetchval("SELECT lease_expires_at - now() FROM tasks WHERE task_id = $1",
                               uuid.UUID(task.task_id))
    assert 25 < left.total_seconds() <= 30 and expires.tzinfo is not None
    assert await reaper.reap_once(pool) == 0
    assert (await submit(pool, task)).item_complete


async def test_two_reapers_share_the_work(pool: asyncpg.Pool, make_project: Any, ingest: Any) -> None:
    import asyncio

    pid = await make_project()
    for n in range(40):
        await ingest(pid, f"e{n}")
    leased = (await lease_k(pool, pid, "alice", 10)).tasks + (await lease_k(pool, pid, "bob", 10)).tasks
    await expire(pool, [t.task_id for t in leased])
    counts = await asyncio.gather(reaper.reap_once(pool, batch=3), reaper.reap_once(pool, batch=3))
    assert sum(counts) == 20
    history = await pool.fetchval("SELECT count(*) FROM item_history WHERE subject = 'task' AND to_state ="
                                  " 'unassigned' AND task_id = ANY($1)", [uuid.UUID(t.task_id) for t in leased])
    assert history == 20


# -- order: priority, score, FIFO ----------------------------------------------------------------------------------

async def test_order_is_priority_then_score_then_fifo(pool: asyncpg.Pool, make_project: Any, ingest: Any) -> None:
    pid = await make_project()
    ids = {name: await ingest(pid, name) for name in "abcdef"}
    # item.scored re-orders without a re-sort: d and b get scores; a score that comes first is kept for its item.
    early = str(uuid.uuid4())
    await handle(pool, topics.ITEM_SCORED, events_pb2.ItemScored(item_id=early, project_id=pid, score=0.5,
                                                                 model_version="al-1"), producer="preannotate")
    await handle(pool, topics.ITEM_SCORED, events_pb2.ItemScored(item_id=ids["d"], project_id=pid, score=0.9))
    await handle(pool, topics.ITEM_SCORED, events_pb2.ItemScored(item_id=ids["b"], project_id=pid, score=0.2))
    await ingest(pid, "g", item_id=early)
    async with pool.acquire() as conn:
        assert await projects.set_item_priority(conn, pid, [ids["f"]], 5) == 1
    order = [(await lease1(pool, pid, f"ann-{n}")).item.external_id for n in range(7)]
    assert order == ["f", "d", "g", "b", "a", "c", "e"]


async def test_a_new_score_moves_free_slots_only(pool: asyncpg.Pool, make_project: Any, ingest: Any) -> None:
    pid = await make_project(overlap=2)
    item_id = await ingest(pid, "s")
    done = await lease1(pool, pid, "alice")
    await submit(pool, done)
    await handle(pool, topics.ITEM_SCORED, events_pb2.ItemScored(item_id=item_id, project_id=pid, score=0.7))
    rows = await pool.fetch("SELECT state, score FROM tasks WHERE item_id = $1 ORDER BY slot", uuid.UUID(item_id))
    assert [(r["state"], r["score"]) for r in rows] == [("submitted", 0.0), ("unassigned", 0.7)]
    with pytest.raises(PermanentError, match="finite"):
        await handle(pool, topics.ITEM_SCORED, events_pb2.ItemScored(item_id=item_id, project_id=pid,
                                                                     score=float("nan")))


async def test_set_item_priority_batch_project_and_errors(pool: asyncpg.Pool, make_project: Any,
                                                          ingest: Any) -> None:
    pid = await make_project()
    ids = [await ingest(pid, f"p{n}") for n in range(4)]
    async with pool.acquire() as conn:
        assert await projects.set_item_priority(conn, pid, ids[2:], 3) == 2
        with pytest.raises(NotFound, match=r"item_ids: 1 not item\(s\)"):
            await projects.set_item_priority(conn, pid, [ids[0], str(uuid.uuid4())], 9)
        with pytest.raises(InvalidArgument, match=r"item_ids\[1\] must be a UUID"):
            await projects.set_item_priority(conn, pid, [ids[0], "x"], 9)
        with pytest.raises(NotFound, match="not configured"):
            await projects.set_item_priority(conn, str(uuid.uuid4()), [], 1)
    order = [(await lease1(pool, pid, f"ann-{n}")).item.external_id for n in range(2)]
    assert order == ["p2", "p3"]
    async with pool.acquire() as conn:
        assert await projects.set_item_priority(conn, pid, [], -1) == 4  # the whole project
    rows = await pool.fetch("SELECT state, priority FROM tasks WHERE project_id = $1", uuid.UUID(pid))
    assert {(r["state"], r["priority"]) for r in rows} == {("assigned", -1), ("unassigned", -1)}


# -- gold items ----------------------------------------------------------------------------------------------------

async def test_gold_items_are_served_at_the_ratio_and_look_like_any_other(pool: asyncpg.Pool, make_project: Any,
                                                                          ingest: Any) -> None:
    pid = await make_project(gold_ratio=0.25, overlap=1)
    golds = [await ingest(pid, f"gold-{n}", gold=GOLD) for n in range(3)]
    for n in range(20):
        await ingest(pid, f"r{n:02d}")
    served = []
    for _ in range(12):
        task = await lease1(pool, pid, "alice")
        served.append(task)
        if task.is_gold:
            # Indistinguishable: the same shape of task, item_state as a regular item with overlap 1.
            assert task.item_state == "assigned" and task.state == "assigned" and task.round == 1
        out = await submit(pool, task)
        assert out.item_complete and out.task.item_state == "submitted"
    assert "".join("G" if t.is_gold else "R" for t in served) == "GRRRGRRRGRRR"
    assert [t.item.item_id for t in served if t.is_gold] == golds
    # Every gold item was served once to alice; with no unseen gold left she gets regular work only.
    nxt = [await lease1(pool, pid, "alice") for _ in range(1)]
    assert not nxt[0].is_gold
    # Gold items are re-served to other annotators.
    bob = await lease1(pool, pid, "bob")
    assert bob.is_gold and bob.item.item_id == golds[0]
    async with pool.acquire() as conn:
        stats = await projects.project_stats(conn, pid)
    assert stats.gold_items == 3 and "gold" not in stats.item_states
    assert sum(stats.item_states.values()) == 20
    assert sum(stats.task_states.values()) == 20  # gold tasks are outside the task counts too
    # The counters the ratio is worked out from, as leases (one at a time or several per call) and submits keep them
    carol = await lease_k(pool, pid, "carol", 4)
    assert "".join("G" if t.is_gold else "R" for t in carol.tasks) == "GRRR"
    counters = {r["annotator_id"]: (r["served_total"], r["gold_served"], r["submitted"]) for r in await pool.fetch(
        "SELECT annotator_id, served_total, gold_served, submitted FROM annotators WHERE project_id = $1",
        uuid.UUID(pid))}
    assert counters == {"alice": (13, 3, 12), "bob": (1, 1, 0), "carol": (4, 1, 0)}


async def test_gold_submission_emits_its_own_task_submitted(pool: asyncpg.Pool, make_project: Any,
                                                            ingest: Any) -> None:
    pid = await make_project(gold_ratio=1.0, overlap=3, schema_version=4)
    gold_id = await ingest(pid, "gold", gold=GOLD, predictions=(("m1", 0.5, BOX),))
    a = await lease1(pool, pid, "alice")
    b = await lease1(pool, pid, "bob")
    assert a.is_gold and b.is_gold and a.task_id != b.task_id and not a.qualification
    await submit(pool, a)
    await submit(pool, b, result="[]")
    again = await submit(pool, b, result=BOX)  # idempotent: nothing emitted again
    assert again.item_complete and again.task.result_json == "[]"
    evs = await events_of(pool, gold_id)
    assert len(evs) == 2 and evs[0][0] != evs[1][0]
    for (_, ev), who in zip(evs, ["alice", "bob"], strict=True):
        assert ev.is_gold and json.loads(ev.gold_json) == json.loads(GOLD) and not ev.qualification
        assert ev.round == 1 and ev.item.item_id == gold_id
        assert [s.annotator_id for s in ev.submissions] == [who]
        assert ev.submissions[0].schema_version == 4 and list(ev.submissions[0].prelabel_model_versions) == ["m1"]
    item_state = await pool.fetchval("SELECT state FROM items WHERE item_id = $1", uuid.UUID(gold_id))
    assert item_state == "gold"
    with pytest.raises(PermanentError, match="gold item"):
        await handle(pool, topics.ANNOTATION_ACCEPTED, events_pb2.AnnotationAccepted(item=a.item, round=1))


async def test_a_skipped_gold_item_is_not_served_again(pool: asyncpg.Pool, make_project: Any, ingest: Any) -> None:
    pid = await make_project(gold_ratio=1.0)
    await ingest(pid, "gold", gold=GOLD)
    task = await lease1(pool, pid, "alice")
    async with pool.acquire() as conn:
        await leasing.skip_task(conn, task.task_id, "alice", "no idea")
    assert (await lease_k(pool, pid, "alice")).reason == "empty"
    assert (await lease1(pool, pid, "bob")).is_gold


# -- qualification -------------------------------------------------------------------------------------------------

async def _qualifying_project(make_project: Any, ingest: Any) -> tuple[str, list[str]]:
    pid = await make_project(qualification_items=2, qualification_min_accuracy=0.8, gold_ratio=0.0)
    golds = [await ingest(pid, f"q{n}", gold=GOLD) for n in range(3)]
    for n in range(3):
        await ingest(pid, f"w{n}")
    return pid, golds


async def test_qualification_pass(pool: asyncpg.Pool, make_project: Any, ingest: Any) -> None:
    pid, golds = await _qualifying_project(make_project, ingest)
    first = await lease_k(pool, pid, "alice", 5)
    assert [t.item.item_id for t in first.tasks] == golds[:2], "only qualification_items gold items"
    assert all(t.is_gold and t.qualification for t in first.tasks)
    for task in first.tasks:
        await submit(pool, task)
    pending = await lease_k(pool, pid, "alice", 5)
    assert not pending.found and pending.reason == "qualification pending"
    evs = await events_of(pool, golds[0])
    assert evs[0][1].qualification and evs[0][1].is_gold
    await handle(pool, topics.ANNOTATOR_QUALIFIED, events_pb2.AnnotatorQualified(
        project_id=pid, annotator_id="alice", passed=True, accuracy=1.0, items=2))
    work = await lease_k(pool, pid, "alice", 5)
    assert [t.item.external_id for t in work.tasks] == ["w0", "w1", "w2"]
    assert not any(t.is_gold or t.qualification for t in work.tasks)


async def test_qualification_fail(pool: asyncpg.Pool, make_project: Any, ingest: Any) -> None:
    pid, _ = await _qualifying_project(make_project, ingest)
    for task in (await lease_k(pool, pid, "bob", 2)).tasks:
        await submit(pool, task)
    await handle(pool, topics.ANNOTATOR_QUALIFIED, events_pb2.AnnotatorQualified(
        project_id=pid, annotator_id="bob", passed=False, accuracy=0.1, items=2))
    failed = await lease_k(pool, pid, "bob")
    assert not failed.found and failed.reason == "qualification failed"
    # Another annotator is unaffected and starts with the qualification set.
    assert (await lease1(pool, pid, "carol")).qualification


async def test_qualification_pending_keeps_held_leases(pool: asyncpg.Pool, make_project: Any, ingest: Any) -> None:
    pid, _ = await _qualifying_project(make_project, ingest)
    held = (await lease_k(pool, pid, "dave", 2)).tasks
    await submit(pool, held[0])
    again = await lease_k(pool, pid, "dave", 3)
    assert [t.task_id for t in again.tasks] == [held[1].task_id]
    await submit(pool, held[1])
    assert (await lease_k(pool, pid, "dave")).reason == "qualification pending"


# -- pause and resume ----------------------------------------------------------------------------------------------

async def test_pause_releases_leases_at_once_and_resume_restores(pool: asyncpg.Pool, make_project: Any,
                                                                 ingest: Any) -> None:
    pid = await make_project(overlap=1)
    ids = [await ingest(pid, f"z{n}") for n in range(4)]
    held = await lease_k(pool, pid, "eve", 3)
    await submit(pool, held.tasks[0])
    await handle(pool, topics.ANNOTATOR_PAUSED, events_pb2.AnnotatorPaused(
        project_id=pid, annotator_id="eve", paused=True, reason="gold accuracy 0.42 < 0.85", actor="qa"))
    paused = await lease_k(pool, pid, "eve", 3)
    assert not paused.found and paused.reason == "paused: gold accuracy 0.42 < 0.85"
    rows = await pool.fetch("SELECT state, annotator_id FROM tasks WHERE project_id = $1 ORDER BY seq",
                            uuid.UUID(pid))
    assert [(r["state"], r["annotator_id"]) for r in rows] == [
        ("submitted", "eve"), ("unassigned", None), ("unassigned", None), ("unassigned", None)]
    for task in held.tasks[1:]:
        with pytest.raises(FailedPrecondition, match="lease lost"):
            await submit(pool, task)
    reasons = await pool.fetch("SELECT actor, reason, item_id FROM item_history WHERE subject = 'task'"
                               " AND to_state = 'unassigned' AND item_id = ANY($1)", [uuid.UUID(i) for i in ids])
    assert {(r["actor"], r["reason"]) for r in reasons} == {("qa", "annotator paused: gold accuracy 0.42 < 0.85")}
    assert len(reasons) == 2
    # Others get the released tasks; eve gets work again once resumed.
    assert (await lease1(pool, pid, "frank")).item.external_id == "z1"
    await handle(pool, topics.ANNOTATOR_PAUSED, events_pb2.AnnotatorPaused(
        project_id=pid, annotator_id="eve", paused=False, actor="manager-1"))
    resumed = await lease_k(pool, pid, "eve", 3)
    assert [t.item.external_id for t in resumed.tasks] == ["z2", "z3"]
    # A pause for an annotator who never leased is stored too; a bad event is dead-lettered.
    await handle(pool, topics.ANNOTATOR_PAUSED, events_pb2.AnnotatorPaused(project_id=pid, annotator_id="gina",
                                                                           paused=True))
    assert (await lease_k(pool, pid, "gina")).reason == "paused: no reason given"
    with pytest.raises(PermanentError, match="annotator_id is required"):
        await handle(pool, topics.ANNOTATOR_PAUSED, events_pb2.AnnotatorPaused(project_id=pid, paused=True))


async def test_pause_releases_gold_leases_too(pool: asyncpg.Pool, make_project: Any, ingest: Any) -> None:
    pid = await make_project(gold_ratio=1.0)
    await ingest(pid, "g", gold=GOLD)
    task = await lease1(pool, pid, "hal")
    await handle(pool, topics.ANNOTATOR_PAUSED, events_pb2.AnnotatorPaused(project_id=pid, annotator_id="hal",
                                                                           paused=True, reason="x"))
    async with pool.acquire() as conn:
        view = await views.get_task(conn, task.task_id)
    assert view.state == "unassigned" and view.is_gold


# -- provenance, feedback, history ---------------------------------------------------------------------------------

async def test_submissions_carry_schema_version_and_prelabel_versions(pool: asyncpg.Pool, make_project: Any,
                                                                      ingest: Any) -> None:
    pid = await make_project(overlap=1, schema_version=3)
    item_id = await ingest(pid, "prov", predictions=(("yolo-v2", 0.8, BOX), ("sam-1", 0.4, "[]")))
    task = await lease1(pool, pid, "ivy")
    # A newer schema and a later prediction do not change what ivy worked with.
    async with pool.acquire() as conn:
        await projects.configure_project(conn, pid, Policy(overlap=1, lease_seconds=60), 4)
    await handle(pool, topics.ITEM_PREANNOTATED, events_pb2.ItemPreannotated(
        item_id=item_id, project_id=pid, predictions=[events_pb2.Prediction(model_version="late", result_json="[]")]))
    await submit(pool, task)
    (_, ev), = await events_of(pool, item_id)
    assert not ev.is_gold and ev.round == 1
    assert ev.submissions[0].schema_version == 3
    assert list(ev.submissions[0].prelabel_model_versions) == ["sam-1", "yolo-v2"]
    async with pool.acquire() as conn:
        await projects.configure_project(conn, pid, Policy(overlap=1, lease_seconds=60))  # 0 keeps version 4
        assert (await projects.require_project(conn, uuid.UUID(pid))).schema_version == 4
        with pytest.raises(InvalidArgument, match="schema_version"):
            await projects.configure_project(conn, pid, Policy(), -1)


async def test_rejected_round_carries_feedback_and_history_is_complete(pool: asyncpg.Pool, make_project: Any,
                                                                       ingest: Any) -> None:
    pid = await make_project(overlap=1)
    item_id = await ingest(pid, "fb")
    first = await lease1(pool, pid, "jo")
    assert first.round == 1 and first.feedback == ""
    await submit(pool, first)
    await handle(pool, topics.ANNOTATION_REJECTED, events_pb2.AnnotationRejected(
        item=first.item, round=1, reason="the box misses the tail", reviewer_id="rev-7"))
    second = await lease1(pool, pid, "jo")
    assert second.round == 2 and second.feedback == "the box misses the tail" and second.task_id != first.task_id
    await submit(pool, second)
    await handle(pool, topics.ANNOTATION_ACCEPTED, events_pb2.AnnotationAccepted(item=first.item, round=2))
    async with pool.acquire() as conn:
        entries = await views.get_item_history(conn, item_id)
        with pytest.raises(NotFound, match="item_id"):
            await views.get_item_history(conn, str(uuid.uuid4()))
        with pytest.raises(InvalidArgument, match="item_id must be a UUID"):
            await views.get_item_history(conn, "nope")
    got = [(e.actor, e.from_state, e.to_state, bool(e.task_id)) for e in entries]
    assert got == [
        ("test", "", "unassigned", False),
        ("jo", "unassigned", "assigned", True),      # task leased
        ("jo", "unassigned", "assigned", True),      # item: first slot leased
        ("jo", "assigned", "submitted", True),       # task
        ("jo", "assigned", "submitted", True),       # item
        ("rev-7", "submitted", "rejected", False),
        ("orchestrator", "rejected", "unassigned", False),
        ("jo", "unassigned", "assigned", True),
        ("jo", "unassigned", "assigned", True),
        ("jo", "assigned", "submitted", True),
        ("jo", "assigned", "submitted", True),
        ("qa", "submitted", "accepted", False),
    ]
    assert all(e.at.seconds > 0 for e in entries)
    assert entries[-1].at.ToDatetime() >= entries[0].at.ToDatetime()
    assert "the box misses the tail" in entries[6].reason
