"""Service-layer handlers and the gRPC servicer against the real Postgres (127.0.0.1:5432, trust, user postgres).

Each test gets a fresh database (random suffix) that is dropped afterwards.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import grpc
import pytest
import pytest_asyncio

from annotary.events.v1 import events_pb2
from annotary.qa.v1 import qa_pb2, qa_pb2_grpc
from annotary_common.bus import PermanentError, apply_once
from annotary_common.events import Event, build_envelope, parse_event
from annotary_common.testing import migrated_pool
from annotary_common.topics import ANNOTATION_ACCEPTED, REVIEW_REQUIRED, TASK_SUBMITTED
from annotary_qa.entrypoints.grpc_api import QaServicer
from annotary_qa.service_layer import decisions, projects

pytestmark = pytest.mark.asyncio

SCHEMA = {
    "modality": "image",
    "labels": [{"name": "cat"}, {"name": "dog"}],
    "tools": ["bbox"],
    "rules": {"min_box_size": 2},
}
PROJECT = "p-1"
CAT = [{"type": "bbox", "label": "cat", "x": 1, "y": 2, "w": 30, "h": 40}]
CAT_AGAIN = [{"id": "r9", "type": "bbox", "label": "cat", "x": 1.001, "y": 2, "w": 30, "h": 40.0, "score": 1}]
DOG = [{"type": "bbox", "label": "dog", "x": 1, "y": 2, "w": 30, "h": 40}]


def iid(n: int) -> str:
    """Item ids are UUIDs (ingest's canonical id)."""
    return f"00000000-0000-4000-8000-{n:012d}"



@pytest_asyncio.fixture
async def pool() -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool("qa", "annotary_qa") as pool:
        yield pool


async def configure(pool: asyncpg.Pool, threshold: float = 0.6, review: str = "disagreements",
                    version: int = 1) -> None:
    config = projects.check_config(PROJECT, json.dumps(SCHEMA), version, threshold, review)
    async with pool.acquire() as conn:
        await projects.configure_project(conn, config)


def submitted(item_id: str, *results: Any, round_: int = 1, project_id: str = PROJECT) -> events_pb2.TaskSubmitted:
    item = events_pb2.ItemSnapshot(item_id=item_id, project_id=project_id, modality="image", width=64, height=64)
    subs = [events_pb2.Submission(task_id=f"t{i}", annotator_id=f"a{i}",
                                  result_json=r if isinstance(r, str) else json.dumps(r))
            for i, r in enumerate(results)]
    return events_pb2.TaskSubmitted(item=item, submissions=subs, round=round_)


def as_event(payload: events_pb2.TaskSubmitted) -> Event:
    """What the consumer hands the handler: a fresh envelope (new event id) around the payload."""
    envelope = build_envelope(TASK_SUBMITTED, payload.item.item_id, payload, "orchestrator")
    return parse_event(envelope.SerializeToString())


async def handle(pool: asyncpg.Pool, event: Event) -> None:
    """The consumer's own exactly-once step: inbox row and handler in one transaction."""
    await apply_once(pool, "annotary-qa:task.submitted", event, decisions.on_task_submitted)


async def outbox_events(pool: asyncpg.Pool) -> list[tuple[str, str, Event]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT topic, key, envelope FROM outbox ORDER BY id")
    return [(r["topic"], r["key"], parse_event(bytes(r["envelope"]))) for r in rows]


async def test_agreeing_submissions_make_one_decision_and_one_accepted_event(pool: asyncpg.Pool) -> None:
    await configure(pool)
    await handle(pool, as_event(submitted(iid(1), CAT, CAT_AGAIN, CAT)))

    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT item_id, round, outcome, agreement, result_json, schema_version FROM decisions")
        assert await conn.fetchval("SELECT count(*) FROM review_queue") == 0
    assert len(rows) == 1
    row = rows[0]
    assert (str(row["item_id"]), row["round"], row["outcome"], row["agreement"], row["schema_version"]) == (
        iid(1), 1, "accepted", 1.0, 1)
    assert json.loads(row["result_json"]) == CAT

    [(topic, key, event)] = await outbox_events(pool)
    assert (topic, key, event.envelope.producer) == (ANNOTATION_ACCEPTED, iid(1), "qa")
    accepted = event.payload
    assert isinstance(accepted, events_pb2.AnnotationAccepted)
    assert accepted.item.item_id == iid(1) and accepted.round == 1 and accepted.agreement == 1.0
    assert json.loads(accepted.result_json) == CAT
    assert [s.annotator_id for s in accepted.submissions] == ["a0", "a1", "a2"]


async def test_same_item_round_twice_is_decided_once(pool: asyncpg.Pool) -> None:
    await configure(pool)
    payload = submitted(iid(2), CAT, CAT)
    first = as_event(payload)
    await handle(pool, first)
    await handle(pool, first)                                  # re-delivery: the inbox drops it
    await handle(pool, as_event(payload))                      # re-publication with a new event id
    await handle(pool, as_event(submitted(iid(2), DOG, CAT)))  # even different content: decided already

    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM decisions") == 1
        assert await conn.fetchval("SELECT outcome FROM decisions WHERE item_id = $1", uuid.UUID(iid(2))) == "accepted"
    assert [topic for topic, _, _ in await outbox_events(pool)] == [ANNOTATION_ACCEPTED]

    await handle(pool, as_event(submitted(iid(2), CAT, CAT, round_=2)))  # the next round is a new decision
    assert [topic for topic, _, _ in await outbox_events(pool)] == [ANNOTATION_ACCEPTED, ANNOTATION_ACCEPTED]


async def test_disagreeing_submissions_require_review(pool: asyncpg.Pool) -> None:
    await configure(pool, threshold=0.8)
    await handle(pool, as_event(submitted(iid(3), CAT, DOG, CAT)))

    async with pool.acquire() as conn:
        decision = await conn.fetchrow("SELECT outcome, agreement, result_json FROM decisions")
        queue = await conn.fetch("SELECT item_id, round, project_id, reason FROM review_queue")
    assert decision["outcome"] == "review_required" and decision["result_json"] is None
    assert decision["agreement"] == pytest.approx(1 / 3)
    assert [(str(q["item_id"]), q["round"], q["project_id"]) for q in queue] == [(iid(3), 1, PROJECT)]
    assert queue[0]["reason"] == "agreement 0.33 (box_f1@0.5) is below the project threshold 0.80"

    [(topic, key, event)] = await outbox_events(pool)
    assert (topic, key) == (REVIEW_REQUIRED, iid(3))
    review = event.payload
    assert isinstance(review, events_pb2.ReviewRequired)
    assert review.reason == queue[0]["reason"] and review.round == 1 and len(review.submissions) == 3
    assert review.agreement == pytest.approx(1 / 3)


async def test_invalid_submissions_count_as_disagreement(pool: asyncpg.Pool) -> None:
    await configure(pool, threshold=0.6)
    outside = [{"type": "bbox", "label": "cat", "x": 50, "y": 2, "w": 30, "h": 40}]  # the image is 64 wide
    await handle(pool, as_event(submitted(iid(4), outside, outside, "{not json")))
    [(topic, _, event)] = await outbox_events(pool)
    assert topic == REVIEW_REQUIRED
    assert isinstance(event.payload, events_pb2.ReviewRequired)
    assert event.payload.agreement == 0.0
    assert "no submission passed validation" in event.payload.reason
    assert ("submission by a0 is invalid: bbox_inside_image: region 0: fields \"x\" + \"w\" = 80 exceed the "
            "image width 64") in event.payload.reason
    assert "submission by a2 is invalid: result_is_json: result: is not valid JSON" in event.payload.reason


async def test_review_all_policy(pool: asyncpg.Pool) -> None:
    await configure(pool, threshold=0.5, review="all")
    await handle(pool, as_event(submitted(iid(5), CAT)))
    [(topic, _, event)] = await outbox_events(pool)
    assert topic == REVIEW_REQUIRED and isinstance(event.payload, events_pb2.ReviewRequired)
    assert event.payload.agreement == 1.0


async def test_unknown_project_raises_a_plain_exception(pool: asyncpg.Pool) -> None:
    with pytest.raises(projects.UnknownProject) as info:
        await handle(pool, as_event(submitted(iid(6), CAT, project_id="nope")))
    assert not isinstance(info.value, PermanentError)
    async with pool.acquire() as conn:  # rolled back, inbox included, so a retry can succeed
        assert await conn.fetchval("SELECT count(*) FROM inbox") == 0
    await configure(pool)
    assert await outbox_events(pool) == []


@pytest.mark.parametrize("payload, message", [
    (submitted("", CAT), "item.item_id '' is not a UUID"),
    (submitted("item-7", CAT), "item.item_id 'item-7' is not a UUID"),
    (submitted(iid(7), CAT, project_id=""), "item.project_id is empty"),
    (submitted(iid(7), CAT, round_=0), "round must be >= 1"),
    (submitted(iid(7)), "no submissions"),
])
async def test_bad_content_is_permanent(pool: asyncpg.Pool, payload: events_pb2.TaskSubmitted, message: str) -> None:
    await configure(pool)
    with pytest.raises(PermanentError, match=message):
        await handle(pool, as_event(payload))


async def test_configure_replaces_and_refuses_an_older_version(pool: asyncpg.Pool) -> None:
    await configure(pool, threshold=0.6, version=2)
    await configure(pool, threshold=0.9, version=2)
    async with pool.acquire() as conn:
        project = await projects.load_project(conn, PROJECT)
    assert project.agreement_threshold == 0.9 and project.schema_version == 2
    with pytest.raises(projects.StaleSchemaVersion, match="schema_version: 1 is older than the stored version 2"):
        await configure(pool, version=1)


# -- gRPC, in process, on a real server and channel --------------------------------------------
@pytest_asyncio.fixture
async def stub(pool: asyncpg.Pool) -> AsyncIterator[qa_pb2_grpc.QaServiceAsyncStub]:
    server = grpc.aio.server()
    qa_pb2_grpc.add_QaServiceServicer_to_server(QaServicer(pool), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield qa_pb2_grpc.QaServiceStub(channel)
    finally:
        await channel.close(None)
        await server.stop(None)


async def test_grpc_configure_and_validate(stub: qa_pb2_grpc.QaServiceAsyncStub) -> None:
    await stub.ConfigureProject(qa_pb2.ConfigureProjectRequest(
        project_id=PROJECT, schema_json=json.dumps(SCHEMA), schema_version=1, agreement_threshold=0.7,
        review="disagreements"), timeout=5)
    item = events_pb2.ItemSnapshot(item_id="i", project_id=PROJECT, modality="image", width=64, height=64)

    ok = await stub.ValidateAnnotation(qa_pb2.ValidateAnnotationRequest(
        project_id=PROJECT, item=item, result_json=json.dumps(CAT)), timeout=5)
    assert ok.valid and list(ok.violations) == []

    bad = await stub.ValidateAnnotation(qa_pb2.ValidateAnnotationRequest(
        project_id=PROJECT, item=item, result_json=json.dumps([*CAT, {**CAT[0], "label": "dgo"}])), timeout=5)
    assert not bad.valid
    assert [(v.rule, v.region_index, v.message) for v in bad.violations] == [
        ("label_in_schema", 1, 'region 1: label "dgo" is not in the schema (allowed: cat, dog)')]

    malformed = await stub.ValidateAnnotation(qa_pb2.ValidateAnnotationRequest(
        project_id=PROJECT, item=item, result_json="[{"), timeout=5)
    assert not malformed.valid
    assert [(v.rule, v.region_index) for v in malformed.violations] == [("result_is_json", -1)]


@pytest.mark.parametrize("request_fields, code, detail", [
    ({"schema_json": "{"}, grpc.StatusCode.INVALID_ARGUMENT, "schema_json: is not valid JSON"),
    ({"schema_json": json.dumps({**SCHEMA, "modality": "pdf"})}, grpc.StatusCode.INVALID_ARGUMENT, "schema.modality:"),
    ({"schema_json": json.dumps({**SCHEMA, "labels": [{"name": "a"}, {"name": "a"}]})},
     grpc.StatusCode.INVALID_ARGUMENT, "schema.labels[1].name:"),
    ({"schema_json": json.dumps({**SCHEMA, "tools": ["lasso"]})}, grpc.StatusCode.INVALID_ARGUMENT, "schema.tools[0]:"),
    ({"agreement_threshold": 1.5}, grpc.StatusCode.INVALID_ARGUMENT, "agreement_threshold:"),
    ({"review": "sometimes"}, grpc.StatusCode.INVALID_ARGUMENT, "review:"),
    ({"schema_version": 0}, grpc.StatusCode.INVALID_ARGUMENT, "schema_version:"),
    ({"project_id": ""}, grpc.StatusCode.INVALID_ARGUMENT, "project_id:"),
])
async def test_grpc_configure_rejects_bad_input(stub: qa_pb2_grpc.QaServiceAsyncStub, request_fields: dict[str, Any],
                                                code: grpc.StatusCode, detail: str) -> None:
    fields: dict[str, Any] = {"project_id": PROJECT, "schema_json": json.dumps(SCHEMA), "schema_version": 1,
                              "agreement_threshold": 0.5, "review": "none", **request_fields}
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.ConfigureProject(qa_pb2.ConfigureProjectRequest(**fields), timeout=5)
    assert info.value.code() == code
    assert (info.value.details() or "").startswith(detail)


async def test_grpc_errors(stub: qa_pb2_grpc.QaServiceAsyncStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.ValidateAnnotation(qa_pb2.ValidateAnnotationRequest(project_id="unknown", result_json="[]"),
                                      timeout=5)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert "project_id:" in (info.value.details() or "")

    await stub.ConfigureProject(qa_pb2.ConfigureProjectRequest(
        project_id=PROJECT, schema_json=json.dumps(SCHEMA), schema_version=3, agreement_threshold=0.5), timeout=5)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.ConfigureProject(qa_pb2.ConfigureProjectRequest(
            project_id=PROJECT, schema_json=json.dumps(SCHEMA), schema_version=2, agreement_threshold=0.5), timeout=5)
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.ValidateAnnotation(qa_pb2.ValidateAnnotationRequest(
            project_id=PROJECT, item=events_pb2.ItemSnapshot(project_id="other"), result_json="[]"), timeout=5)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (info.value.details() or "").startswith("item.project_id:")
