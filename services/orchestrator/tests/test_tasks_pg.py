"""The gRPC service-layer functions (lease, heartbeat, skip, submit, get, stats) on the real Postgres."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import asyncpg
import pytest

from annotary.events.v1 import events_pb2
from annotary.orchestrator.v1 import orchestrator_pb2
from annotary_common.grpc_util import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from annotary_orchestrator.domain.policy import Policy
from annotary_orchestrator.service_layer import leasing, projects, submitting, views
from annotary_orchestrator.service_layer.submitting import SubmitOutcome

BOX = json.dumps([{"type": "bbox", "label": "cat", "x": 1, "y": 2, "w": 3, "h": 4}])


async def lease(pool: asyncpg.Pool, project_id: str, annotator: str) -> orchestrator_pb2.Task | None:
    async with pool.acquire() as conn:
        return await leasing.lease_next_task(conn, project_id, annotator)


async def must_lease(pool: asyncpg.Pool, project_id: str, annotator: str) -> orchestrator_pb2.Task:
    task = await lease(pool, project_id, annotator)
    assert task is not None, f"nothing leased for {annotator}"
    return task


async def submit(pool: asyncpg.Pool, task_id: str, annotator: str, result: str = BOX,
                 lead_time_ms: int = 1500) -> SubmitOutcome:
    async with pool.acquire() as conn:
        return await submitting.submit_task(conn, task_id, annotator, result, lead_time_ms)


async def skip(pool: asyncpg.Pool, task_id: str, annotator: str, reason: str = "") -> None:
    async with pool.acquire() as conn:
        await leasing.skip_task(conn, task_id, annotator, reason)


async def expire(pool: asyncpg.Pool, task_id: str) -> None:
    await pool.execute("UPDATE tasks SET lease_expires_at = now() - interval '1 second' WHERE task_id = $1",
                       uuid.UUID(task_id))


async def item_of(pool: asyncpg.Pool, task_id: str) -> asyncpg.Record:
    row = await pool.fetchrow("SELECT i.* FROM items i JOIN tasks t USING (item_id) WHERE t.task_id = $1",
                              uuid.UUID(task_id))
    assert row is not None
    return row


async def outbox_rows(pool: asyncpg.Pool, item_id: str) -> list[asyncpg.Record]:
    return list(await pool.fetch("SELECT * FROM outbox WHERE key = $1 ORDER BY id", item_id))


async def test_configure_project_validates_and_upserts(pool: asyncpg.Pool) -> None:
    pid = str(uuid.uuid4())
    async with pool.acquire() as conn:
        with pytest.raises(InvalidArgument, match=r"^policy\.overlap: "):
            await projects.configure_project(conn, pid, Policy(overlap=0))
        with pytest.raises(InvalidArgument, match=r"^policy\.lease_seconds: "):
            await projects.configure_project(conn, pid, Policy(lease_seconds=9))
        with pytest.raises(InvalidArgument, match="project_id must be a UUID"):
            await projects.configure_project(conn, "p1", Policy())
        assert await projects.find_policy(conn, uuid.UUID(pid)) is None
        await projects.configure_project(conn, pid, Policy(overlap=2, lease_seconds=30))
        await projects.configure_project(conn, pid, Policy(overlap=3, lease_seconds=45))
        assert await projects.find_policy(conn, uuid.UUID(pid)) == Policy(overlap=3, lease_seconds=45)


async def test_overlap_two_gives_two_annotators_different_slots_never_one_annotator_twice(
        pool: asyncpg.Pool, make_project: Any, ingest: Any) -> None:
    pid = await make_project(overlap=2)
    first = await ingest(pid, "first", predictions=(("m2", 0.5, "[]"), ("m1", 0.9, BOX)))
    second = await ingest(pid, "second")

    a1 = await must_lease(pool, pid, "alice")
    assert a1.item.item_id == first and a1.state == "assigned" and a1.annotator_id == "alice"
    assert a1.item_state == "assigned" and a1.HasField("lease_expires_at")
    assert [(p.model_version, p.score) for p in a1.predictions] == [("m1", 0.9), ("m2", 0.5)]
    assert json.loads(a1.predictions[0].result_json) == json.loads(BOX)
    b1 = await must_lease(pool, pid, "bob")
    assert b1.item.item_id == first and b1.task_id != a1.task_id

    assert (await submit(pool, a1.task_id, "alice")).item_complete is False
    assert (await item_of(pool, a1.task_id))["state"] == "in_progress"
    a2 = await must_lease(pool, pid, "alice")
    assert a2.item.item_id == second, "alice must never get a second slot of the first item"
    await submit(pool, a2.task_id, "alice")
    assert await lease(pool, pid, "alice") is None  # one slot of each item left, both for someone else
    c1 = await must_lease(pool, pid, "carol")
    assert c1.item.item_id == second
    assert await lease(pool, pid, "dave") is None
    slots = await pool.fetch("SELECT item_id, annotator_id FROM tasks WHERE project_id = $1", uuid.UUID(pid))
    pairs = [(str(r["item_id"]), r["annotator_id"]) for r in slots]
    assert len(pairs) == 4 and len(set(pairs)) == 4


async def test_lease_again_returns_the_held_task(pool: asyncpg.Pool, make_project: Any, ingest: Any) -> None:
    pid = await make_project(overlap=1)
    for n in range(3):
        await ingest(pid, f"item-{n}")
    held = await must_lease(pool, pid, "alice")
    again = await must_lease(pool, pid, "alice")
    assert again.task_id == held.task_id and again.lease_expires_at == held.lease_expires_at
    leased = await pool.fetchval("SELECT count(*) FROM tasks WHERE project_id = $1 AND state = 'assigned'",
                                 uuid.UUID(pid))
    assert leased == 1
    # Once submitted, the next call leases a new one (FIFO: the second item).
    await submit(pool, held.task_id, "alice")
    nxt = await must_lease(pool, pid, "alice")
    assert nxt.task_id != held.task_id and nxt.item.external_id == "item-1"


async def test_priority_then_fifo(pool: asyncpg.Pool, make_project: Any, ingest: Any) -> None:
    pid = await make_project(overlap=1)
    names = ["a", "b", "c"]
    ids = [await ingest(pid, n) for n in names]
    await pool.execute("UPDATE tasks SET priority = 5 WHERE item_id = $1", uuid.UUID(ids[2]))
    got = [(await must_lease(pool, pid, f"ann-{n}")).item.external_id for n in range(3)]
    assert got == ["c", "a", "b"]


async def test_expired_lease_is_re_leased_and_the_old_holder_lost_it(
        pool: asyncpg.Pool, make_project: Any, ingest: Any) -> None:
    pid = await make_project(overlap=1)
    await ingest(pid, "only")
    first = await must_lease(pool, pid, "alice")
    assert await lease(pool, pid, "bob") is None
    await expire(pool, first.task_id)
    taken = await must_lease(pool, pid, "bob")
    assert taken.task_id == first.task_id and taken.annotator_id == "bob"

    with pytest.raises(FailedPrecondition, match="lease lost"):
        await submit(pool, first.task_id, "alice")
    async with pool.acquire() as conn:
        with pytest.raises(FailedPrecondition, match="lease lost"):
            await leasing.heartbeat(conn, first.task_id, "alice")
        with pytest.raises(FailedPrecondition):
            await leasing.heartbeat(conn, first.task_id, "mallory")
    with pytest.raises(PermissionDenied, match="does not hold"):
        await submit(pool, first.task_id, "mallory")
    with pytest.raises(PermissionDenied):
        await skip(pool, first.task_id, "mallory")
    history = await pool.fetch("SELECT actor, from_state, to_state, reason FROM item_history WHERE task_id = $1"
                               " AND subject = 'task' ORDER BY id", uuid.UUID(first.task_id))
    assert [(h["actor"], h["from_state"], h["to_state"]) for h in history] == [
        ("alice", "unassigned", "assigned"), ("orchestrator", "assigned", "unassigned"),
        ("bob", "unassigned", "assigned")]
    assert history[1]["reason"] == "lease of 'alice' expired"
    done = await submit(pool, first.task_id, "bob")
    assert done.item_complete and done.task.state == "submitted"


async def test_an_expired_lease_not_yet_re_queued_is_still_accepted(
        pool: asyncpg.Pool, make_project: Any, ingest: Any) -> None:
    pid = await make_project(overlap=1)
    await ingest(pid, "slow")
    task = await must_lease(pool, pid, "alice")
    await expire(pool, task.task_id)
    async with pool.acquire() as conn:
        renewed = await leasing.heartbeat(conn, task.task_id, "alice")
    assert renewed.timestamp() > task.lease_expires_at.ToDatetime().timestamp() - 60
    await expire(pool, task.task_id)
    outcome = await submit(pool, task.task_id, "alice")
    assert outcome.item_complete and outcome.task.state == "submitted"
    assert outcome.task.item_state == "submitted"


async def test_an_expired_lease_comes_back_to_its_holder(pool: asyncpg.Pool, make_project: Any, ingest: Any) -> None:
    pid = await make_project(overlap=1)
    await ingest(pid, "mine")
    task = await must_lease(pool, pid, "alice")
    await expire(pool, task.task_id)
    again = await must_lease(pool, pid, "alice")
    assert again.task_id == task.task_id
    assert again.lease_expires_at.ToDatetime() > task.lease_expires_at.ToDatetime()


async def test_heartbeat_extends_the_lease(pool: asyncpg.Pool, make_project: Any, ingest: Any) -> None:
    pid = await make_project(overlap=1, lease_seconds=600)
    await ingest(pid, "x")
    task = await must_lease(pool, pid, "alice")
    await pool.execute("UPDATE tasks SET lease_expires_at = now() + interval '5 seconds' WHERE task_id = $1",
                       uuid.UUID(task.task_id))
    async with pool.acquire() as conn:
        expires = await leasing.heartbeat(conn, task.task_id, "alice")
        stored = await conn.fetchval("SELECT lease_expires_at - now() FROM tasks WHERE task_id = $1",
                                     uuid.UUID(task.task_id))
    assert stored.total_seconds() > 590
    assert expires.tzinfo is not None


async def test_skip_gives_the_slot_to_someone_else_never_back(
        pool: asyncpg.Pool, make_project: Any, ingest: Any) -> None:
    pid = await make_project(overlap=1)
    hard = await ingest(pid, "hard")
    task = await must_lease(pool, pid, "alice")
    assert task.item.item_id == hard
    await skip(pool, task.task_id, "alice", "blurry")
    await skip(pool, task.task_id, "alice", "blurry")  # a retried skip is a no-op
    async with pool.acquire() as conn:
        after = await views.get_task(conn, task.task_id)
    assert after.state == "unassigned" and after.annotator_id == "" and after.item_state == "unassigned"
    assert await lease(pool, pid, "alice") is None, "alice skipped it: she must not get it again"
    assert (await must_lease(pool, pid, "bob")).task_id == task.task_id
    skips = await pool.fetch("SELECT annotator_id, reason FROM skips WHERE item_id = $1", uuid.UUID(hard))
    assert [(s["annotator_id"], s["reason"]) for s in skips] == [("alice", "blurry")]
    reasons = await pool.fetch("SELECT subject, from_state, to_state, reason FROM item_history WHERE item_id = $1"
                               " ORDER BY id", uuid.UUID(hard))
    assert ("task", "assigned", "unassigned", "skipped: blurry") in [tuple(r) for r in reasons]
    assert ("item", "assigned", "unassigned", "no lease left (skipped: blurry)") in [tuple(r) for r in reasons]
    with pytest.raises(FailedPrecondition, match="lease lost"):
        await submit(pool, task.task_id, "alice")


async def test_skip_keeps_an_item_assigned_while_another_slot_is_leased(
        pool: asyncpg.Pool, make_project: Any, ingest: Any) -> None:
    pid = await make_project(overlap=2)
    await ingest(pid, "pair")
    a = await must_lease(pool, pid, "alice")
    await must_lease(pool, pid, "bob")
    await skip(pool, a.task_id, "alice")
    assert (await item_of(pool, a.task_id))["state"] == "assigned"


async def test_submit_completing_the_item_emits_exactly_one_task_submitted(
        pool: asyncpg.Pool, make_project: Any, ingest: Any) -> None:
    pid = await make_project(overlap=2)
    item_id = await ingest(pid, "pic")
    a = await must_lease(pool, pid, "alice")
    b = await must_lease(pool, pid, "bob")
    first = await submit(pool, a.task_id, "alice", lead_time_ms=1000)
    assert not first.item_complete and first.task.item_state == "in_progress"
    assert await outbox_rows(pool, item_id) == []
    second = await submit(pool, b.task_id, "bob", result="[]", lead_time_ms=2000)
    assert second.item_complete and second.task.item_state == "submitted"
    assert second.task.state == "submitted" and json.loads(second.task.result_json) == []

    rows = await outbox_rows(pool, item_id)
    assert [r["topic"] for r in rows] == ["task.submitted"]
    envelope = events_pb2.Envelope.FromString(bytes(rows[0]["envelope"]))
    assert envelope.type == "task.submitted" and envelope.key == item_id and envelope.producer == "orchestrator"
    payload = events_pb2.TaskSubmitted.FromString(envelope.payload)
    assert payload.round == 1 and payload.item.item_id == item_id and payload.item.external_id == "pic"
    subs = {s.annotator_id: s for s in payload.submissions}
    assert set(subs) == {"alice", "bob"}
    assert json.loads(subs["alice"].result_json) == json.loads(BOX) and subs["bob"].result_json == "[]"
    assert (subs["alice"].lead_time_ms, subs["bob"].lead_time_ms) == (1000, 2000)
    assert subs["alice"].task_id == a.task_id and subs["alice"].HasField("submitted_at")

    # Idempotent re-submit (the API retries after a crash): same task, nothing emitted again.
    again = await submit(pool, b.task_id, "bob", result=BOX)
    assert again.task == second.task and again.item_complete
    again_a = await submit(pool, a.task_id, "alice")
    assert again_a.task.result_json == first.task.result_json
    assert len(await outbox_rows(pool, item_id)) == 1
    item_history = await pool.fetch("SELECT from_state, to_state FROM item_history WHERE item_id = $1"
                                    " AND subject = 'item' ORDER BY id", uuid.UUID(item_id))
    assert [(h["from_state"], h["to_state"]) for h in item_history] == [
        (None, "unassigned"), ("unassigned", "assigned"), ("assigned", "in_progress"), ("in_progress", "submitted")]


async def test_concurrent_last_submissions_emit_once(pool: asyncpg.Pool, make_project: Any, ingest: Any) -> None:
    pid = await make_project(overlap=3)
    item_id = await ingest(pid, "race")
    tasks = [await must_lease(pool, pid, f"ann-{n}") for n in range(3)]
    outcomes = await asyncio.gather(*(submit(pool, t.task_id, t.annotator_id) for t in tasks))
    assert sum(o.item_complete for o in outcomes) == 1
    rows = await outbox_rows(pool, item_id)
    assert len(rows) == 1
    payload = events_pb2.TaskSubmitted.FromString(events_pb2.Envelope.FromString(bytes(rows[0]["envelope"])).payload)
    assert len(payload.submissions) == 3


async def test_submit_rejects_bad_results_and_changes_nothing(
        pool: asyncpg.Pool, make_project: Any, ingest: Any) -> None:
    pid = await make_project(overlap=1)
    await ingest(pid, "x")
    task = await must_lease(pool, pid, "alice")
    for bad in ('{"type": "bbox"}', "not json", '"text"', "[1, 2]"):
        with pytest.raises(InvalidArgument, match=r"^result_json: "):
            await submit(pool, task.task_id, "alice", result=bad)
    with pytest.raises(InvalidArgument, match="lead_time_ms"):
        await submit(pool, task.task_id, "alice", lead_time_ms=-1)
    async with pool.acquire() as conn:
        now = await views.get_task(conn, task.task_id)
    assert now.state == "assigned" and now.result_json == ""


async def test_get_task_and_bad_ids(pool: asyncpg.Pool, make_project: Any) -> None:
    pid = await make_project()
    async with pool.acquire() as conn:
        with pytest.raises(NotFound, match="task_id"):
            await views.get_task(conn, str(uuid.uuid4()))
        with pytest.raises(InvalidArgument, match="task_id must be a UUID"):
            await views.get_task(conn, "nope")
        with pytest.raises(NotFound, match="not configured"):
            await leasing.lease_next_task(conn, str(uuid.uuid4()), "alice")
        with pytest.raises(InvalidArgument, match="annotator_id is required"):
            await leasing.lease_next_task(conn, pid, " ")
        with pytest.raises(NotFound):
            await leasing.heartbeat(conn, str(uuid.uuid4()), "alice")
        with pytest.raises(NotFound):
            await submitting.submit_task(conn, str(uuid.uuid4()), "alice", "[]", 0)
        assert await leasing.lease_next_task(conn, pid, "alice") is None


async def test_project_stats(pool: asyncpg.Pool, make_project: Any, ingest: Any) -> None:
    pid = await make_project(overlap=2)
    for n in range(3):
        await ingest(pid, f"s{n}")
    a = await must_lease(pool, pid, "alice")
    await must_lease(pool, pid, "bob")
    await submit(pool, a.task_id, "alice")
    async with pool.acquire() as conn:
        stats = await projects.project_stats(conn, pid)
        with pytest.raises(NotFound):
            await projects.project_stats(conn, str(uuid.uuid4()))
    assert stats.item_states == {"in_progress": 1, "unassigned": 2}
    assert stats.task_states == {"submitted": 1, "assigned": 1, "unassigned": 4}
    assert stats.submissions_last_hour == 1


async def test_twenty_concurrent_leases_never_double_assign(
        pool: asyncpg.Pool, make_project: Any, ingest: Any) -> None:
    pid = await make_project(overlap=2)
    for n in range(8):  # 16 slots for 20 annotators: 4 find nothing
        await ingest(pid, f"c{n}")
    results = await asyncio.gather(*(lease(pool, pid, f"ann-{n}") for n in range(20)))
    got = [t for t in results if t is not None]
    assert len(got) == 16
    assert len({t.task_id for t in got}) == 16
    per_item: dict[str, set[str]] = {}
    for t in got:
        per_item.setdefault(t.item.item_id, set()).add(t.annotator_id)
    assert all(len(annotators) == 2 for annotators in per_item.values()) and len(per_item) == 8
    rows = await pool.fetch("SELECT annotator_id FROM tasks WHERE project_id = $1", uuid.UUID(pid))
    assert sorted(r["annotator_id"] for r in rows) == sorted(t.annotator_id for t in got)


async def test_one_annotator_leasing_twenty_times_at_once_holds_one_task(
        pool: asyncpg.Pool, make_project: Any, ingest: Any) -> None:
    pid = await make_project(overlap=2)
    for n in range(5):
        await ingest(pid, f"d{n}")
    results = await asyncio.gather(*(lease(pool, pid, "alice") for _ in range(20)))
    assert len({t.task_id for t in results if t is not None}) == 1
    held = await pool.fetchval("SELECT count(*) FROM tasks WHERE project_id = $1 AND annotator_id = 'alice'",
                               uuid.UUID(pid))
    assert held == 1
