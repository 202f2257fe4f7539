"""Issue 8 against the real Postgres: adjudication publishes annotation.accepted once with the adjudicated
result; a label migration moves accepted annotations to a new schema version (published again, once); a manager
pauses and reinstates an annotator. A fresh database per test (dropped afterwards)."""

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
from annotary_common.bus import apply_once
from annotary_common.events import Event, build_envelope, parse_event
from annotary_common.testing import migrated_pool
from annotary_common.topics import ANNOTATION_ACCEPTED, ANNOTATOR_PAUSED, TASK_SUBMITTED
from annotary_qa.entrypoints.grpc_api import QaServicer
from annotary_qa.service_layer import decisions
from annotary_qa.service_layer.relabel import relabel

pytestmark = pytest.mark.asyncio

PROJECT = "p-8"
V1 = {"modality": "image", "labels": [{"name": "cat"}, {"name": "dog"}, {"name": "near"}],
      "tools": ["bbox", "relation"]}
V2 = {"modality": "image", "labels": [{"name": "feline"}, {"name": "dog"}, {"name": "near"}],
      "tools": ["bbox", "relation"]}
CAT = {"type": "bbox", "label": "cat", "x": 1, "y": 2, "w": 30, "h": 40, "id": "c"}
DOG = {"type": "bbox", "label": "dog", "x": 1, "y": 2, "w": 30, "h": 40, "id": "d"}


def iid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


@pytest_asyncio.fixture
async def pool() -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool("qa", "annotary_qa") as pool:
        yield pool


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


async def configure(stub: qa_pb2_grpc.QaServiceAsyncStub, schema: dict[str, Any], version: int) -> None:
    await stub.ConfigureProject(qa_pb2.ConfigureProjectRequest(
        project_id=PROJECT, schema_json=json.dumps(schema), schema_version=version, agreement_threshold=0.9,
        review="disagreements", gold_min_accuracy=0.85, qualification_min_accuracy=0.85, overlap=2), timeout=5)


def submitted(item_id: str, *results: list[Any], version: int = 1) -> events_pb2.TaskSubmitted:
    subs = []
    for k, result in enumerate(results):
        sub = events_pb2.Submission(task_id=f"t-{k}-{uuid.uuid4().hex[:6]}", annotator_id=f"a{k}",
                                    result_json=json.dumps(result), schema_version=version)
        sub.submitted_at.FromSeconds(1_700_000_000)
        subs.append(sub)
    item = events_pb2.ItemSnapshot(item_id=item_id, project_id=PROJECT, modality="image", width=64, height=64)
    return events_pb2.TaskSubmitted(item=item, submissions=subs, round=1)


async def handle(pool: asyncpg.Pool, payload: events_pb2.TaskSubmitted) -> None:
    envelope = build_envelope(TASK_SUBMITTED, payload.item.item_id, payload, "orchestrator")
    assert await apply_once(pool, "annotary-qa:task.submitted", parse_event(envelope.SerializeToString()),
                            decisions.on_task_submitted)


async def accepted(pool: asyncpg.Pool) -> list[events_pb2.AnnotationAccepted]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT envelope FROM outbox WHERE topic = $1 ORDER BY id", ANNOTATION_ACCEPTED)
    out = []
    for row in rows:
        event: Event = parse_event(bytes(row["envelope"]))
        assert isinstance(event.payload, events_pb2.AnnotationAccepted)
        out.append(event.payload)
    return out


async def test_relabel_maps_drops_and_cuts_dangling_relations() -> None:
    near = {"type": "relation", "label": "near", "from": "c", "to": "d"}
    out, relabeled, dropped = relabel([CAT, DOG, near], {"cat": "feline"})
    assert out == [{**CAT, "label": "feline"}, DOG, near] and (relabeled, dropped) == (1, 0)
    out, relabeled, dropped = relabel([CAT, DOG, near], {"dog": ""})
    assert out == [CAT] and (relabeled, dropped) == (0, 2)


async def test_adjudication_is_accepted_once_with_the_adjudicated_result(
        pool: asyncpg.Pool, stub: qa_pb2_grpc.QaServiceAsyncStub) -> None:
    await configure(stub, V1, 1)
    await handle(pool, submitted(iid(1), [CAT], [DOG]))
    [review] = (await stub.ListReviews(qa_pb2.ListReviewsRequest(project_id=PROJECT), timeout=5)).reviews
    final = [{**CAT, "w": 20}]
    request = qa_pb2.SubmitReviewRequest(project_id=PROJECT, item_id=iid(1), round=review.round, decision="correct",
                                         result_json=json.dumps(final), reviewer_id="rev")
    assert (await stub.SubmitReview(request, timeout=5)).outcome == "accepted"
    with pytest.raises(grpc.aio.AioRpcError) as info:  # a second adjudication (double click, retry) is refused
        await stub.SubmitReview(request, timeout=5)
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    [event] = await accepted(pool)
    assert json.loads(event.result_json) == final and event.decided_by == "rev"


async def test_migration_moves_accepted_annotations_to_the_new_version_once(
        pool: asyncpg.Pool, stub: qa_pb2_grpc.QaServiceAsyncStub) -> None:
    await configure(stub, V1, 1)
    await handle(pool, submitted(iid(1), [CAT], [CAT]))        # accepted by consensus, version 1
    await handle(pool, submitted(iid(2), [DOG], [DOG]))
    await handle(pool, submitted(iid(3), [CAT], [DOG]))        # in review: not accepted, not migrated
    assert len(await accepted(pool)) == 2
    request = qa_pb2.MigrateLabelsRequest(project_id=PROJECT, from_version=1, to_version=2,
                                          mapping={"cat": "feline"}, actor="mgr")
    with pytest.raises(grpc.aio.AioRpcError) as info:  # the project is not on version 2 yet
        await stub.MigrateLabels(request, timeout=5)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "to_version" in (info.value.details() or "")
    await configure(stub, V2, 2)
    reply = await stub.MigrateLabels(request, timeout=5)
    assert (reply.migrated, reply.regions_relabeled, reply.regions_dropped) == (2, 1, 0)
    events = await accepted(pool)
    assert len(events) == 4
    by_item = {e.item.item_id: e for e in events[2:]}
    def plain(result: str) -> list[dict[str, Any]]:  # the consensus merge keeps no region ids
        return [{k: v for k, v in r.items() if k != "id"} for r in json.loads(result)]

    assert plain(by_item[iid(1)].result_json) == [{**plain(json.dumps([CAT]))[0], "label": "feline"}]
    assert by_item[iid(1)].schema_version == 2 and by_item[iid(1)].round == 1
    assert plain(by_item[iid(2)].result_json) == plain(json.dumps([DOG]))
    async with pool.acquire() as conn:
        versions = dict(await conn.fetch("SELECT item_id::text, schema_version FROM decisions"))
    assert versions == {iid(1): 2, iid(2): 2, iid(3): 1}
    again = await stub.MigrateLabels(request, timeout=5)   # nothing is migrated twice
    assert again.migrated == 0 and len(await accepted(pool)) == 4
    bad = qa_pb2.MigrateLabelsRequest(project_id=PROJECT, from_version=2, to_version=2, mapping={}, actor="mgr")
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.MigrateLabels(bad, timeout=5)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_a_manager_pauses_and_reinstates(pool: asyncpg.Pool, stub: qa_pb2_grpc.QaServiceAsyncStub) -> None:
    await configure(stub, V1, 1)
    annotator = str(uuid.uuid4())
    pause = qa_pb2.PauseAnnotatorRequest(project_id=PROJECT, annotator_id=annotator, reason="off-guideline boxes",
                                         actor="mgr")
    assert (await stub.PauseAnnotator(pause, timeout=5)).paused
    assert not (await stub.PauseAnnotator(pause, timeout=5)).paused  # once
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.PauseAnnotator(qa_pb2.PauseAnnotatorRequest(project_id=PROJECT, annotator_id=annotator,
                                                               actor="mgr"), timeout=5)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "reason" in (info.value.details() or "")
    await stub.ReinstateAnnotator(qa_pb2.ReinstateAnnotatorRequest(project_id=PROJECT, annotator_id=annotator,
                                                                   actor="mgr"), timeout=5)
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT envelope FROM outbox WHERE topic = $1 ORDER BY id", ANNOTATOR_PAUSED)
    flags = []
    for row in rows:
        payload = parse_event(bytes(row["envelope"])).payload
        assert isinstance(payload, events_pb2.AnnotatorPaused)
        flags.append(payload.paused)
    assert flags == [True, False]
