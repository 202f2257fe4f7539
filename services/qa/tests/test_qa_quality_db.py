"""Issue 4 against the real Postgres: provenance on annotation.accepted, gold scores and auto-pause,
qualification, reviews, project quality, annotator metrics, and every validation rule refused over gRPC
with nothing changed. A fresh database per test (dropped afterwards)."""

from __future__ import annotations

import json
import math
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
from annotary_common.topics import (
    ANNOTATION_ACCEPTED,
    ANNOTATION_REJECTED,
    ANNOTATOR_PAUSED,
    ANNOTATOR_QUALIFIED,
    TASK_SUBMITTED,
)
from annotary_qa.domain.validation import RULES
from annotary_qa.entrypoints.grpc_api import QaServicer
from annotary_qa.service_layer import decisions

pytestmark = pytest.mark.asyncio

PROJECT = "p-4"
BOX_SCHEMA = {"modality": "image", "labels": [{"name": "cat"}, {"name": "dog"}], "tools": ["bbox"],
              "rules": {"min_box_size": 2}}
CHOICE_SCHEMA = {"modality": "text", "labels": [], "tools": ["choice"],
                 "choices": [{"name": "sentiment", "options": ["pos", "neg", "neu"]}]}
CAT = [{"type": "bbox", "label": "cat", "x": 1, "y": 2, "w": 30, "h": 40}]
CAT_NEAR = [{"type": "bbox", "label": "cat", "x": 2, "y": 2, "w": 30, "h": 40}]
DOG = [{"type": "bbox", "label": "dog", "x": 1, "y": 2, "w": 30, "h": 40}]
TABLES = ("projects", "decisions", "review_queue", "submissions", "choice_ratings", "pair_agreement", "annotators",
          "outbox", "inbox")


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


async def configure(stub: qa_pb2_grpc.QaServiceAsyncStub, schema: dict[str, Any] = BOX_SCHEMA, **policy: Any) -> None:
    fields: dict[str, Any] = {"agreement_threshold": 0.8, "review": "disagreements", "gold_min_accuracy": 0.85,
                              "qualification_items": 0, "qualification_min_accuracy": 0.85, "overlap": 3, **policy}
    await stub.ConfigureProject(qa_pb2.ConfigureProjectRequest(
        project_id=PROJECT, schema_json=json.dumps(schema), schema_version=policy.pop("schema_version", 2),
        **{k: v for k, v in fields.items() if k != "schema_version"}), timeout=5)


def submission(annotator: str, result: Any, *, lead_ms: int = 60_000, version: int = 2,
               models: tuple[str, ...] = ()) -> events_pb2.Submission:
    sub = events_pb2.Submission(task_id=f"t-{annotator}-{uuid.uuid4().hex[:6]}", annotator_id=annotator,
                                result_json=result if isinstance(result, str) else json.dumps(result),
                                lead_time_ms=lead_ms, schema_version=version, prelabel_model_versions=list(models))
    sub.submitted_at.FromSeconds(1_700_000_000)
    return sub


def task(item_id: str, *subs: events_pb2.Submission, round_: int = 1, gold: Any = None,
         qualification: bool = False, text: str = "") -> events_pb2.TaskSubmitted:
    item = events_pb2.ItemSnapshot(item_id=item_id, project_id=PROJECT, modality="image", width=64, height=64,
                                   text=text)
    return events_pb2.TaskSubmitted(item=item, submissions=list(subs), round=round_,
                                    is_gold=gold is not None and not qualification, qualification=qualification,
                                    gold_json=json.dumps(gold) if gold is not None else "")


async def handle(pool: asyncpg.Pool, payload: events_pb2.TaskSubmitted) -> None:
    """As the consumer does: a fresh envelope, inbox row and handler in one transaction."""
    envelope = build_envelope(TASK_SUBMITTED, payload.item.item_id, payload, "orchestrator")
    event = parse_event(envelope.SerializeToString())
    assert await apply_once(pool, "annotary-qa:task.submitted", event, decisions.on_task_submitted)


async def events(pool: asyncpg.Pool, topic: str | None = None) -> list[Event]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT topic, envelope FROM outbox ORDER BY id")
    return [parse_event(bytes(r["envelope"])) for r in rows if topic is None or r["topic"] == topic]


async def snapshot(pool: asyncpg.Pool) -> dict[str, list[str]]:
    async with pool.acquire() as conn:
        return {t: sorted(str(dict(r)) for r in await conn.fetch(f"SELECT * FROM {t}")) for t in TABLES}


# -- regular items -----------------------------------------------------------------------------
async def test_accepted_event_carries_agreement_and_provenance(pool: asyncpg.Pool,
                                                               stub: qa_pb2_grpc.QaServiceAsyncStub) -> None:
    await configure(stub)
    await handle(pool, task(iid(1), submission("a1", CAT, models=("det-1",)), submission("a2", CAT_NEAR),
                            submission("a3", CAT, version=1, models=("det-1", "det-2"))))
    [event] = await events(pool)
    accepted = event.payload
    assert isinstance(accepted, events_pb2.AnnotationAccepted)
    assert json.loads(accepted.result_json) == [{"type": "bbox", "label": "cat", "x": 1.33, "y": 2, "w": 30, "h": 40}]
    assert accepted.agreement == 1.0 and accepted.agreement_metric == "box_f1@0.5"
    assert (accepted.round, accepted.schema_version, accepted.decided_by) == (1, 2, "consensus")
    assert list(accepted.annotator_ids) == ["a1", "a2", "a3"]
    assert list(accepted.prelabel_model_versions) == ["det-1", "det-2"]
    assert len(accepted.submissions) == 3

    async with pool.acquire() as conn:
        decision = await conn.fetchrow("SELECT agreement_metric, metrics, decided_by FROM decisions")
        pairs = await conn.fetch("SELECT annotator_a, annotator_b, value FROM pair_agreement ORDER BY 1, 2")
        subs = await conn.fetch("SELECT annotator_id, kind, valid, score, outcome FROM submissions ORDER BY 1")
    assert decision["agreement_metric"] == "box_f1@0.5" and decision["decided_by"] == "consensus"
    assert json.loads(decision["metrics"])["box_f1"] == 1.0
    assert [(p["annotator_a"], p["annotator_b"], p["value"]) for p in pairs] == [
        ("a1", "a2", 1.0), ("a1", "a3", 1.0), ("a2", "a3", 1.0)]
    assert [(s["annotator_id"], s["kind"], s["valid"], s["score"], s["outcome"]) for s in subs] == [
        ("a1", "regular", True, 1.0, "accepted"), ("a2", "regular", True, 1.0, "accepted"),
        ("a3", "regular", True, 1.0, "accepted")]


async def test_dawid_skene_history_breaks_a_tie(pool: asyncpg.Pool, stub: qa_pb2_grpc.QaServiceAsyncStub) -> None:
    """careless answered at random on earlier items; on a 1:1 tie the reliable annotator's answer is merged."""
    await configure(stub, CHOICE_SCHEMA, agreement_threshold=0.0, overlap=3)
    options = ["pos", "neg", "neu"]
    for k in range(8):
        truth, noise = options[k % 3], options[(k * 7 + 1) % 3]
        await handle(pool, task(iid(100 + k), *(submission(a, [{"type": "choice", "name": "sentiment", "value": v}])
                                                for a, v in (("reliable", truth), ("other", truth),
                                                             ("careless", noise)))))
    await handle(pool, task(iid(200), submission("careless", [{"type": "choice", "name": "sentiment", "value": "neg"}]),
                            submission("reliable", [{"type": "choice", "name": "sentiment", "value": "pos"}])))
    last = (await events(pool, ANNOTATION_ACCEPTED))[-1].payload
    assert isinstance(last, events_pb2.AnnotationAccepted)
    assert json.loads(last.result_json) == [{"type": "choice", "name": "sentiment", "value": "pos"}]


# -- gold and qualification --------------------------------------------------------------------
async def test_gold_pauses_a_careless_annotator_once_and_a_manager_reinstates(
        pool: asyncpg.Pool, stub: qa_pb2_grpc.QaServiceAsyncStub) -> None:
    await configure(stub, gold_min_accuracy=0.85)
    for n in range(3):
        await handle(pool, task(iid(10 + n), submission("careful", CAT), gold=CAT))
        await handle(pool, task(iid(10 + n), submission("careless", DOG), gold=CAT))
    [paused] = await events(pool, ANNOTATOR_PAUSED)
    assert isinstance(paused.payload, events_pb2.AnnotatorPaused)
    assert (paused.payload.project_id, paused.payload.annotator_id, paused.payload.paused, paused.payload.actor) == (
        PROJECT, "careless", True, "qa")
    assert paused.payload.reason == ("gold accuracy 0.00 over 3 scored gold items is below the project's "
                                     "gold_min_accuracy 0.85")
    assert await events(pool, ANNOTATION_ACCEPTED) == []  # gold is never accepted
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM decisions") == 0

    # more gold while paused: scored, but no second pause; a re-published event counts once
    again = task(iid(13), submission("careless", DOG), gold=CAT)
    await handle(pool, again)
    await handle(pool, again)
    assert len(await events(pool, ANNOTATOR_PAUSED)) == 1

    reply = await stub.GetAnnotatorMetrics(qa_pb2.GetAnnotatorMetricsRequest(project_id=PROJECT), timeout=5)
    by_id = {a.annotator_id: a for a in reply.annotators}
    assert (by_id["careless"].gold_scored, by_id["careless"].gold_accuracy, by_id["careless"].paused) == (4, 0.0, True)
    assert by_id["careless"].pause_reason == paused.payload.reason
    assert (by_id["careful"].gold_scored, by_id["careful"].gold_accuracy, by_id["careful"].paused) == (3, 1.0, False)

    await stub.ReinstateAnnotator(qa_pb2.ReinstateAnnotatorRequest(project_id=PROJECT, annotator_id="careless",
                                                                   actor="manager-7"), timeout=5)
    reinstated = (await events(pool, ANNOTATOR_PAUSED))[-1].payload
    assert isinstance(reinstated, events_pb2.AnnotatorPaused)
    assert (reinstated.paused, reinstated.actor, reinstated.annotator_id) == (False, "manager-7", "careless")
    await stub.ReinstateAnnotator(qa_pb2.ReinstateAnnotatorRequest(project_id=PROJECT, annotator_id="careless",
                                                                   actor="manager-7"), timeout=5)
    assert len(await events(pool, ANNOTATOR_PAUSED)) == 2  # not paused any more: nothing to publish

    # the latch is reset: judged again on gold scored from now on, paused again after 3 more misses
    for n in range(2):
        await handle(pool, task(iid(20 + n), submission("careless", DOG), gold=CAT))
    assert len(await events(pool, ANNOTATOR_PAUSED)) == 2
    await handle(pool, task(iid(22), submission("careless", DOG), gold=CAT))
    assert [e.payload.paused for e in await events(pool, ANNOTATOR_PAUSED)] == [True, False, True]  # type: ignore


async def test_gold_scores_partial_results(pool: asyncpg.Pool, stub: qa_pb2_grpc.QaServiceAsyncStub) -> None:
    await configure(stub, gold_min_accuracy=0.5)
    gold = [*CAT, {"type": "bbox", "label": "dog", "x": 40, "y": 2, "w": 20, "h": 20}]
    await handle(pool, task(iid(30), submission("a", CAT), gold=gold))  # F1 2/3
    await handle(pool, task(iid(31), submission("a", "{bad json"), gold=gold))  # invalid: 0
    await handle(pool, task(iid(32), submission("a", gold), gold=gold))  # 1
    [row] = (await stub.GetAnnotatorMetrics(qa_pb2.GetAnnotatorMetricsRequest(project_id=PROJECT, annotator_id="a"),
                                            timeout=5)).annotators
    assert row.gold_scored == 3 and row.gold_accuracy == pytest.approx((2 / 3 + 0 + 1) / 3)
    assert not row.paused  # 0.56 >= 0.5


@pytest.mark.parametrize("gold_json, message", [
    ("", "gold_json is empty"),
    ("{", "gold_json result: is not valid JSON"),
    ('{"type": "bbox"}', "gold_json is not a list of regions"),
    (json.dumps([{"type": "bbox", "label": "cow", "x": 1, "y": 1, "w": 5, "h": 5}]),
     "gold_json breaks the schema: label_in_schema"),
])
async def test_unusable_gold_is_dead_lettered(pool: asyncpg.Pool, stub: qa_pb2_grpc.QaServiceAsyncStub,
                                              gold_json: str, message: str) -> None:
    await configure(stub)
    payload = task(iid(40), submission("a", CAT), gold=CAT)
    payload.gold_json = gold_json
    with pytest.raises(PermanentError, match=message):
        await handle(pool, payload)


async def test_qualification_verdict_is_published_once(pool: asyncpg.Pool,
                                                       stub: qa_pb2_grpc.QaServiceAsyncStub) -> None:
    await configure(stub, qualification_items=2, qualification_min_accuracy=0.75)
    for n in range(3):
        await handle(pool, task(iid(50 + n), submission("good", CAT), gold=CAT, qualification=True))
        await handle(pool, task(iid(50 + n), submission("poor", CAT if n == 0 else DOG), gold=CAT,
                                qualification=True))
    verdicts = [e.payload for e in await events(pool, ANNOTATOR_QUALIFIED)]
    assert [(v.annotator_id, v.passed, v.accuracy, v.items) for v in verdicts] == [  # type: ignore[attr-defined]
        ("good", True, 1.0, 2), ("poor", False, 0.5, 2)]
    assert await events(pool, ANNOTATOR_PAUSED) == [] and await events(pool, ANNOTATION_ACCEPTED) == []


# -- reviews -----------------------------------------------------------------------------------
async def test_review_reject_accept_and_correct(pool: asyncpg.Pool, stub: qa_pb2_grpc.QaServiceAsyncStub) -> None:
    await configure(stub, agreement_threshold=0.9)
    for n in (60, 61, 62):
        await handle(pool, task(iid(n), submission("a1", CAT), submission("a2", DOG), submission("a3", CAT)))
    listed = await stub.ListReviews(qa_pb2.ListReviewsRequest(project_id=PROJECT), timeout=5)
    assert [r.item.item_id for r in listed.reviews] == [iid(60), iid(61), iid(62)]
    first = listed.reviews[0]
    assert first.round == 1 and len(first.submissions) == 3 and first.agreement == pytest.approx(1 / 3)
    assert first.reason.startswith("agreement 0.33 (box_f1@0.5) is below the project threshold 0.90")
    assert first.item.width == 64

    async def review(item: str, decision: str, **fields: Any) -> str:
        reply = await stub.SubmitReview(qa_pb2.SubmitReviewRequest(
            project_id=PROJECT, item_id=item, round=1, decision=decision, reviewer_id="rev-1", **fields), timeout=5)
        return reply.outcome

    async def refused(item: str, decision: str, code: grpc.StatusCode, detail: str, **fields: Any) -> None:
        before = await snapshot(pool)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await review(item, decision, **fields)
        assert info.value.code() == code and (info.value.details() or "").startswith(detail), info.value.details()
        assert await snapshot(pool) == before

    await refused(iid(60), "reject", grpc.StatusCode.INVALID_ARGUMENT, "feedback: is required")
    await refused(iid(60), "maybe", grpc.StatusCode.INVALID_ARGUMENT, "decision: 'maybe' is not allowed")
    await refused(iid(60), "correct", grpc.StatusCode.INVALID_ARGUMENT, "result_json: is required")
    await refused(iid(60), "correct", grpc.StatusCode.INVALID_ARGUMENT, "result_json: bbox_min_size: region 0:",
                  result_json=json.dumps([{**CAT[0], "w": 1}]))
    await refused(iid(99), "accept", grpc.StatusCode.FAILED_PRECONDITION, "item_id: item")

    assert await review(iid(60), "reject", feedback="the cat is a dog") == "rejected"
    [rejected] = await events(pool, ANNOTATION_REJECTED)
    assert isinstance(rejected.payload, events_pb2.AnnotationRejected)
    assert (rejected.payload.reason, rejected.payload.reviewer_id, rejected.payload.round) == (
        "the cat is a dog", "rev-1", 1)
    await refused(iid(60), "accept", grpc.StatusCode.FAILED_PRECONDITION, "item_id: item")  # the round is closed

    assert await review(iid(61), "accept") == "accepted"  # the best submission
    assert await review(iid(62), "correct", result_json=json.dumps(DOG)) == "accepted"
    by_item: dict[str, events_pb2.AnnotationAccepted] = {}
    for e in await events(pool, ANNOTATION_ACCEPTED):
        assert isinstance(e.payload, events_pb2.AnnotationAccepted)
        by_item[e.payload.item.item_id] = e.payload
    assert json.loads(by_item[iid(61)].result_json) == CAT and by_item[iid(61)].decided_by == "rev-1"
    assert json.loads(by_item[iid(62)].result_json) == DOG and by_item[iid(62)].agreement_metric == "box_f1@0.5"
    assert (await stub.ListReviews(qa_pb2.ListReviewsRequest(project_id=PROJECT), timeout=5)).reviews == []

    reply = await stub.GetAnnotatorMetrics(qa_pb2.GetAnnotatorMetricsRequest(project_id=PROJECT), timeout=5)
    by_id = {a.annotator_id: a for a in reply.annotators}
    assert by_id["a1"].rejection_rate == pytest.approx(1 / 3)
    assert by_id["a1"].agreement_with_consensus == pytest.approx(0.5)  # 1 on item 61, 0 on item 62
    assert by_id["a2"].agreement_with_consensus == pytest.approx(0.5)
    assert math.isnan(by_id["a1"].gold_accuracy) and by_id["a1"].gold_scored == 0


# -- project quality and annotator metrics -----------------------------------------------------
async def test_project_quality_figures(pool: asyncpg.Pool, stub: qa_pb2_grpc.QaServiceAsyncStub) -> None:
    await configure(stub, CHOICE_SCHEMA, agreement_threshold=0.6, overlap=2)
    answers = [("pos", "pos"), ("neg", "neg"), ("neu", "pos"), ("pos", "pos"), ("neg", "neu")]
    for n, (x, y) in enumerate(answers):
        await handle(pool, task(iid(70 + n), submission("x", [{"type": "choice", "name": "sentiment", "value": x}]),
                                submission("y", [{"type": "choice", "name": "sentiment", "value": y}])))
    reply = await stub.GetProjectQuality(qa_pb2.GetProjectQualityRequest(project_id=PROJECT), timeout=5)
    from annotary_qa.domain.metrics import classification

    xs, ys = [a for a, _ in answers], [b for _, b in answers]
    assert reply.agreement["cohen_kappa"] == pytest.approx(classification.cohen_kappa(xs, ys), abs=1e-12)
    assert reply.agreement["krippendorff_alpha"] == pytest.approx(classification.krippendorff_alpha([xs, ys]),
                                                                  abs=1e-12)
    table = classification.fleiss_table([[a, b] for a, b in answers])
    assert reply.agreement["fleiss_kappa"] == pytest.approx(classification.fleiss_kappa(table), abs=1e-12)
    assert reply.agreement["choice_agreement"] == pytest.approx((1 + 1 + 0.5 + 1 + 0.5) / 5)
    assert (reply.items_decided, reply.items_accepted, reply.items_in_review) == (5, 3, 2)


async def test_box_project_quality_and_annotator_metrics(pool: asyncpg.Pool,
                                                         stub: qa_pb2_grpc.QaServiceAsyncStub) -> None:
    await configure(stub, agreement_threshold=0.5)
    leads = [10_000, 20_000, 30_000, 40_000]
    for n, lead in enumerate(leads):
        await handle(pool, task(iid(80 + n), submission("a", CAT, lead_ms=lead), submission("b", CAT_NEAR)))
    reply = await stub.GetProjectQuality(qa_pb2.GetProjectQualityRequest(project_id=PROJECT), timeout=5)
    assert reply.agreement["box_f1"] == 1.0 and 0.9 < reply.agreement["mean_iou"] < 1.0
    assert reply.agreement["agreement"] == 1.0 and "cohen_kappa" not in reply.agreement

    [a] = (await stub.GetAnnotatorMetrics(qa_pb2.GetAnnotatorMetricsRequest(project_id=PROJECT, annotator_id="a"),
                                          timeout=5)).annotators
    assert a.submissions == 4 and a.throughput_per_hour == pytest.approx(4 / (100_000 / 3_600_000))
    assert a.median_lead_time_ms == 25_000 and a.p95_lead_time_ms == pytest.approx(38_500)
    assert a.agreement_with_consensus == 1.0 and a.rejection_rate == 0.0 and math.isnan(a.gold_accuracy)
    [nobody] = (await stub.GetAnnotatorMetrics(qa_pb2.GetAnnotatorMetricsRequest(project_id=PROJECT,
                                                                                annotator_id="zed"),
                                               timeout=5)).annotators
    assert (nobody.annotator_id, nobody.submissions, nobody.paused) == ("zed", 0, False)


async def test_rpcs_name_unknown_projects_and_missing_fields(stub: qa_pb2_grpc.QaServiceAsyncStub) -> None:
    calls: list[Any] = [
        stub.GetProjectQuality(qa_pb2.GetProjectQualityRequest(project_id="nope"), timeout=5),
        stub.GetAnnotatorMetrics(qa_pb2.GetAnnotatorMetricsRequest(project_id="nope"), timeout=5),
        stub.ListReviews(qa_pb2.ListReviewsRequest(project_id="nope"), timeout=5),
        stub.ReinstateAnnotator(qa_pb2.ReinstateAnnotatorRequest(project_id="nope", annotator_id="a", actor="m"),
                                timeout=5),
    ]
    for call in calls:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call
        assert info.value.code() == grpc.StatusCode.NOT_FOUND and (info.value.details() or "").startswith("project_id")
    await configure(stub)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.ReinstateAnnotator(qa_pb2.ReinstateAnnotatorRequest(project_id=PROJECT, annotator_id="a"), timeout=5)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and (info.value.details() or "").startswith("actor:")
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.ConfigureProject(qa_pb2.ConfigureProjectRequest(
            project_id=PROJECT, schema_json=json.dumps(BOX_SCHEMA), schema_version=3, gold_min_accuracy=1.5), timeout=5)
    assert (info.value.details() or "").startswith("gold_min_accuracy:")


# -- done-when 3: every rule refuses a violating submission, naming it, and changes nothing -------
RULE_SCHEMA = {
    "modality": "image",
    "labels": [{"name": "cat"}, {"name": "dog"}, {"name": "empty"}],
    "tools": ["bbox", "polygon", "polyline", "keypoints", "mask", "relation", "choice", "span", "segment", "track"],
    "choices": [{"name": "quality", "options": ["good", "blurry"], "required": True}],
    "rules": {"min_box_size": 4, "allow_overlap": False, "exclusive": [["empty", "cat"]],
              "keypoint_sigmas": [0.05, 0.05]},
}
Q = {"type": "choice", "name": "quality", "value": "good"}
BOX = {"type": "bbox", "label": "cat", "x": 1, "y": 1, "w": 10, "h": 10}
TEXT = "Ada met Bob.   "
RULE_CASES: dict[str, Any] = {
    "result_is_json": "[{",
    "result_is_list": {"type": "bbox"},
    "region_type_allowed": [Q, {"type": "circle", "label": "cat"}],
    "label_in_schema": [Q, {**BOX, "label": "cow"}],
    "bbox_fields": [Q, {**BOX, "w": "10"}],
    "bbox_inside_image": [Q, {**BOX, "x": 60}],
    "bbox_min_size": [Q, {**BOX, "w": 3}],
    "span_fields": [Q, {"type": "span", "label": "cat", "start": "0", "end": 3}],
    "span_inside_text": [Q, {"type": "span", "label": "cat", "start": 0, "end": 99}],
    "span_not_whitespace": [Q, {"type": "span", "label": "cat", "start": 12, "end": 15}],
    "span_overlap": [Q, {"type": "span", "label": "cat", "start": 0, "end": 3},
                     {"type": "span", "label": "dog", "start": 2, "end": 7}],
    "choice_known": [Q, {"type": "choice", "name": "mood", "value": "great"}],
    "choice_unique": [Q, Q],
    "choice_required": [BOX],
    "polygon_min_points": [Q, {"type": "polygon", "label": "cat", "points": [[0, 0], [5, 5]]}],
    "polygon_valid": [Q, {"type": "polygon", "label": "cat", "points": [[0, 0], [10, 10], [10, 0], [0, 10]]}],
    "polyline_fields": [Q, {"type": "polyline", "label": "cat", "points": [[0, 0]]}],
    "points_inside_image": [Q, {"type": "polyline", "label": "cat", "points": [[0, 0], [0, 70]]}],
    "keypoints_fields": [Q, {"type": "keypoints", "label": "cat", "points": [[1, 1, 2]]}],
    "mask_fields": [Q, {"type": "mask", "label": "cat", "rle": {"size": [64, 64], "counts": [4096]}}],
    "mask_size": [Q, {"type": "mask", "label": "cat", "rle": {"size": [32, 32], "counts": [0, 1024]}}],
    "exclusive_classes": [Q, BOX, {**BOX, "label": "empty"}],
    "region_id_unique": [Q, {**BOX, "id": 1}, {**BOX, "id": 1}],
    "relation_endpoints": [Q, {**BOX, "id": 1}, {"type": "relation", "label": "cat", "from": 1, "to": 2}],
    "segment_fields": [Q, {"type": "segment", "label": "cat", "start": "0", "end": 1}],
    "segment_inside_media": [Q, {"type": "segment", "label": "cat", "start": 1, "end": 1}],
    "track_fields": [Q, {"type": "track", "label": "cat", "track_id": None,
                         "keyframes": [{"frame": 0, "bbox": [0, 0, 5, 5]}]}],
    "track_keyframes": [Q, {"type": "track", "label": "cat", "track_id": 1,
                            "keyframes": [{"frame": 5, "bbox": [0, 0, 5, 5]}, {"frame": 5, "bbox": [0, 0, 5, 5]}]}],
    "track_inside_frame": [Q, {"type": "track", "label": "cat", "track_id": 1,
                               "keyframes": [{"frame": 0, "bbox": [60, 0, 10, 9]}]}],
    "track_id_unique": [Q, {"type": "track", "label": "cat", "track_id": 1,
                            "keyframes": [{"frame": 0, "bbox": [0, 0, 5, 5]}]},
                        {"type": "track", "label": "dog", "track_id": 1,
                         "keyframes": [{"frame": 0, "bbox": [9, 9, 5, 5]}]}],
}


async def test_every_rule_has_a_refusal_case() -> None:
    assert set(RULE_CASES) == set(RULES)


@pytest.mark.parametrize("rule", RULES)
async def test_every_rule_refuses_naming_it_and_changes_nothing(pool: asyncpg.Pool,
                                                                stub: qa_pb2_grpc.QaServiceAsyncStub,
                                                                rule: str) -> None:
    await configure(stub, RULE_SCHEMA)
    case = RULE_CASES[rule]
    result_json = case if isinstance(case, str) else json.dumps(case)
    item = events_pb2.ItemSnapshot(item_id=iid(90), project_id=PROJECT, modality="image", width=64, height=64,
                                   text=TEXT)
    before = await snapshot(pool)
    # synchronous validation on submit (what the API turns into a 422 naming the rule)
    reply = await stub.ValidateAnnotation(qa_pb2.ValidateAnnotationRequest(project_id=PROJECT, item=item,
                                                                           result_json=result_json), timeout=5)
    assert not reply.valid
    assert [v.rule for v in reply.violations] == [rule], [(v.rule, v.message) for v in reply.violations]
    assert reply.violations[0].message
    # a reviewer's correction is refused the same way
    await handle(pool, task(iid(91), submission("a", [Q, BOX]), submission("b", [Q, {**BOX, "label": "dog"}]),
                            text=TEXT))
    with_review = await snapshot(pool)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.SubmitReview(qa_pb2.SubmitReviewRequest(
            project_id=PROJECT, item_id=iid(91), round=1, decision="correct", result_json=result_json,
            reviewer_id="rev"), timeout=5)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (info.value.details() or "").startswith(f"result_json: {rule}: ")
    assert await snapshot(pool) == with_review
    assert before["decisions"] == [] and before["outbox"] == []
