"""Annotation events into the audit log on the real Postgres, through the inbox (apply_once) as the consumer runs
them: one row per change however often an event arrives, with who, when, from what and to what."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from google.protobuf.message import Message

from annotary.events.v1 import events_pb2
from annotary_annotation_api.domain.roles import Role
from annotary_annotation_api.service_layer import audit, audit_events, users
from annotary_common import topics
from annotary_common.bus import Handler, apply_batch, apply_once
from annotary_common.events import Event, build_envelope
from annotary_common.testing import migrated_pool

A = [{"type": "span", "label": "PER", "start": 0, "end": 3}]
B = [{"type": "span", "label": "LOC", "start": 4, "end": 9}]


@pytest.fixture()
async def pool() -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool("annotation_api", "annotary_annotation_api") as p:
        yield p


def event(topic: str, key: str, payload: Message) -> Event:
    return Event(build_envelope(topic, key, payload, "test"), payload)


def submission(task_id: str, annotator: str, result: list[object]) -> events_pb2.Submission:
    sub = events_pb2.Submission(task_id=task_id, annotator_id=annotator, result_json=json.dumps(result),
                                lead_time_ms=1200)
    sub.submitted_at.FromDatetime(datetime.now(UTC))
    return sub


async def deliver(pool: asyncpg.Pool, ev: Event, handler: Handler, times: int = 2) -> None:
    for _ in range(times):  # at-least-once delivery: the inbox makes the second a no-op
        await apply_once(pool, "annotary-annotation-api", ev, handler)


async def test_submit_accept_correct_reject_relabel(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        ann, _ = await users.create_user(conn, "ann", Role.ANNOTATOR)
        rev, _ = await users.create_user(conn, "rev", Role.REVIEWER)
    item = events_pb2.ItemSnapshot(item_id=str(uuid.uuid4()), project_id=str(uuid.uuid4()))
    t1 = str(uuid.uuid4())
    subs = [submission(t1, str(ann.id), A)]
    await deliver(pool, event(topics.TASK_SUBMITTED, item.item_id,
                              events_pb2.TaskSubmitted(item=item, submissions=subs, round=1)),
                  audit_events.on_task_submitted)
    await deliver(pool, event(topics.ANNOTATION_REJECTED, item.item_id,
                              events_pb2.AnnotationRejected(item=item, reason="missed London",
                                                            reviewer_id=str(rev.id), round=1)),
                  audit_events.on_annotation_rejected)
    t2 = str(uuid.uuid4())
    subs2 = [submission(t2, str(ann.id), A)]
    await deliver(pool, event(topics.TASK_SUBMITTED, item.item_id,
                              events_pb2.TaskSubmitted(item=item, submissions=subs2, round=2)),
                  audit_events.on_task_submitted)
    accepted = events_pb2.AnnotationAccepted(item=item, result_json=json.dumps(A + B), submissions=subs2, round=2,
                                             decided_by=str(rev.id), agreement=1.0)
    await deliver(pool, event(topics.ANNOTATION_ACCEPTED, item.item_id, accepted),
                  audit_events.on_annotation_accepted)
    relabeled = events_pb2.AnnotationAccepted(item=item, result_json=json.dumps(B), submissions=subs2, round=2,
                                              decided_by=str(rev.id), schema_version=2)
    await deliver(pool, event(topics.ANNOTATION_ACCEPTED, item.item_id, relabeled),
                  audit_events.on_annotation_accepted)

    async with pool.acquire() as conn:
        history = await audit.annotation_history(conn, t2)  # by a task id
        by_item = await audit.annotation_history(conn, item.item_id)
    assert history == by_item
    assert [(h["action"], h["actor"]["username"]) for h in history] == [
        ("submit", "ann"), ("reject", "rev"), ("submit", "ann"), ("correct", "rev"), ("relabel", None)]
    first, reject, second, correct, relabel = history
    assert first["at"] == subs[0].submitted_at.ToDatetime(tzinfo=UTC).isoformat().replace("+00:00", "Z")
    assert first["before"] is None and first["after"]["result"] == A
    assert first["refs"]["task_id"] == t1 and first["after"]["lead_time_ms"] == 1200
    assert reject["before"]["submissions"] == [{"task_id": t1, "annotator_id": str(ann.id), "result": A}]
    assert reject["after"] == {"rejected": True, "feedback": "missed London", "round": 1}
    assert second["before"] == reject["after"]  # round 2 started from the rejection
    assert correct["before"]["submissions"][0]["result"] == A and correct["after"]["result"] == A + B
    assert relabel["actor"]["id"] == "schema-migration" and relabel["before"]["result"] == A + B
    assert relabel["after"]["result"] == B and relabel["after"]["schema_version"] == 2


async def test_consensus_accept_is_not_a_correction(pool: asyncpg.Pool) -> None:
    item = events_pb2.ItemSnapshot(item_id=str(uuid.uuid4()), project_id=str(uuid.uuid4()))
    subs = [submission(str(uuid.uuid4()), "u1", A), submission(str(uuid.uuid4()), "u2", A + B)]
    await deliver(pool, event(topics.TASK_SUBMITTED, item.item_id,
                              events_pb2.TaskSubmitted(item=item, submissions=subs, round=1)),
                  audit_events.on_task_submitted)
    await deliver(pool, event(topics.ANNOTATION_ACCEPTED, item.item_id,
                              events_pb2.AnnotationAccepted(item=item, result_json=json.dumps(A), submissions=subs,
                                                            round=1, decided_by="consensus", agreement=0.5)),
                  audit_events.on_annotation_accepted)
    async with pool.acquire() as conn:
        history = await audit.annotation_history(conn, item.item_id)
        count = await conn.fetchval("SELECT count(*) FROM audit_log")
    assert [h["action"] for h in history] == ["submit", "submit", "accept"] and count == 3
    assert history[-1]["actor"]["id"] == "consensus" and history[-1]["after"]["agreement"] == 0.5


async def test_a_submission_changes_from_the_earlier_rounds_outcome_whatever_came_first(pool: asyncpg.Pool) -> None:
    """Events of different topics come in no set order (a batch may hold a round's accept before its submission):
    a submission's "before" is the outcome of the earlier rounds, never its own round's."""
    item = events_pb2.ItemSnapshot(item_id=str(uuid.uuid4()), project_id=str(uuid.uuid4()))
    sub1, sub2 = submission(str(uuid.uuid4()), "ann", A), submission(str(uuid.uuid4()), "ann", B)
    accepted1 = events_pb2.AnnotationAccepted(item=item, result_json=json.dumps(A), submissions=[sub1], round=1)
    await deliver(pool, event(topics.ANNOTATION_ACCEPTED, item.item_id, accepted1), audit_events.on_annotation_accepted)
    await deliver(pool, event(topics.TASK_SUBMITTED, item.item_id,
                              events_pb2.TaskSubmitted(item=item, submissions=[sub1], round=1)),
                  audit_events.on_task_submitted)
    accepted2 = events_pb2.AnnotationAccepted(item=item, result_json=json.dumps(B), submissions=[sub2], round=2)
    await deliver(pool, event(topics.ANNOTATION_ACCEPTED, item.item_id, accepted2), audit_events.on_annotation_accepted)
    await deliver(pool, event(topics.TASK_SUBMITTED, item.item_id,
                              events_pb2.TaskSubmitted(item=item, submissions=[sub2], round=2)),
                  audit_events.on_task_submitted)
    async with pool.acquire() as conn:
        submits = [e for e in await audit.annotation_history(conn, item.item_id) if e["action"] == "submit"]
    assert [s["after"]["round"] for s in submits] == [1, 2]
    assert submits[0]["before"] is None
    assert submits[1]["before"]["result"] == A and submits[1]["before"]["round"] == 1


async def _scenario(pool: asyncpg.Pool, ann: str, rev: str, *, in_runs: bool) -> list[dict[str, object]]:
    """Two items' events, delivered one by one or as the consumer's runs; returns both items' histories with the
    ids that differ between the two deliveries replaced by placeholders."""
    x = events_pb2.ItemSnapshot(item_id=str(uuid.uuid4()), project_id=str(uuid.uuid4()))
    y = events_pb2.ItemSnapshot(item_id=str(uuid.uuid4()), project_id=x.project_id)
    sx1, sx2 = submission(str(uuid.uuid4()), ann, A), submission(str(uuid.uuid4()), ann, B)
    sy = [submission(str(uuid.uuid4()), ann, A), submission(str(uuid.uuid4()), rev, A)]
    first = [event(topics.TASK_SUBMITTED, x.item_id, events_pb2.TaskSubmitted(item=x, submissions=[sx1], round=1)),
             event(topics.ANNOTATION_ACCEPTED, x.item_id, events_pb2.AnnotationAccepted(
                 item=x, result_json=json.dumps(A), submissions=[sx1], round=1, decided_by="consensus"))]
    submitted = [event(topics.TASK_SUBMITTED, x.item_id, events_pb2.TaskSubmitted(item=x, submissions=[sx2], round=2)),
                 event(topics.TASK_SUBMITTED, y.item_id, events_pb2.TaskSubmitted(item=y, submissions=sy, round=1))]
    accepted = [
        event(topics.ANNOTATION_ACCEPTED, y.item_id, events_pb2.AnnotationAccepted(
            item=y, result_json=json.dumps(A), submissions=sy, round=1, decided_by="consensus", agreement=1.0)),
        event(topics.ANNOTATION_ACCEPTED, y.item_id, events_pb2.AnnotationAccepted(  # a schema migration's relabel
            item=y, result_json=json.dumps(B), submissions=sy, round=1, decided_by="consensus", schema_version=2)),
        event(topics.ANNOTATION_ACCEPTED, x.item_id, events_pb2.AnnotationAccepted(
            item=x, result_json=json.dumps(A + B), submissions=[sx2], round=2, decided_by=rev))]
    await deliver(pool, first[0], audit_events.on_task_submitted)
    await deliver(pool, first[1], audit_events.on_annotation_accepted)
    if in_runs:
        for _ in range(2):  # delivered twice: the inbox drops the second run whole
            await apply_batch(pool, "annotary-annotation-api", submitted, audit_events.on_tasks_submitted)
            await apply_batch(pool, "annotary-annotation-api", accepted, audit_events.on_annotations_accepted)
    else:
        for ev in submitted:
            await deliver(pool, ev, audit_events.on_task_submitted)
        for ev in accepted:
            await deliver(pool, ev, audit_events.on_annotation_accepted)
    names = {x.item_id: "X", y.item_id: "Y"}
    tasks = {s.task_id: f"t{i}" for i, s in enumerate([sx1, sx2, *sy])}
    async with pool.acquire() as conn:
        out = []
        for item_id in (x.item_id, y.item_id):
            for entry in await audit.annotation_history(conn, item_id):
                refs = {**entry["refs"], "event_id": "-", "project_id": "-"}
                text = json.dumps({"item": entry["entity_id"], "action": entry["action"], "actor": entry["actor"],
                                   "before": entry["before"], "after": entry["after"], "refs": refs})
                for raw, placeholder in (*names.items(), *tasks.items()):
                    text = text.replace(raw, placeholder)
                out.append(json.loads(text))
    return out


async def test_a_run_of_events_writes_what_one_by_one_delivery_writes(pool: asyncpg.Pool) -> None:
    """The consumer applies queued events in runs (a few statements per run): the rows, their order and their
    "before" are those of event-by-event delivery, a relabel of a round accepted inside the same run included."""
    async with pool.acquire() as conn:
        ann, _ = await users.create_user(conn, "ann", Role.ANNOTATOR)
        rev, _ = await users.create_user(conn, "rev", Role.REVIEWER)
    one_by_one = await _scenario(pool, str(ann.id), str(rev.id), in_runs=False)
    runs = await _scenario(pool, str(ann.id), str(rev.id), in_runs=True)
    assert runs == one_by_one
    assert [(e["item"], e["action"]) for e in runs] == [  # by time: a submission's is when it was submitted
        ("X", "submit"), ("X", "submit"), ("X", "accept"), ("X", "correct"),
        ("Y", "submit"), ("Y", "submit"), ("Y", "accept"), ("Y", "relabel")]
    assert runs[1]["after"]["round"] == 2
    assert runs[1]["before"] == {"result": A, "round": 1, "decided_by": "consensus", "agreement": 0.0,
                                 "agreement_metric": ""}
    assert runs[7]["before"]["result"] == A and runs[7]["after"]["result"] == B
    assert runs[4]["actor"]["username"] == "ann" and runs[5]["actor"]["username"] == "rev"
