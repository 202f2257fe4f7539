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
from annotary_common.bus import Handler, apply_once
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
