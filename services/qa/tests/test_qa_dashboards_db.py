"""The dashboards' quality timeline on the real Postgres, over gRPC: decisions per bucket (accepted, rejected, sent
to review, agreement) and each annotator's gold scores, agreement and rejections per bucket. Rows are written with
known times; the expected figures are computed here from the same lists."""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import grpc
import pytest
import pytest_asyncio

from annotary.qa.v1 import dashboards_pb2, dashboards_pb2_grpc
from annotary_common.testing import migrated_pool
from annotary_common.timeline import timestamp
from annotary_qa.entrypoints.dashboards_grpc import register

pytestmark = pytest.mark.asyncio

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
PROJECT = "p-dash"
# (minutes after T0, outcome, decided_by, agreement)
DECISIONS = [
    (-5, "accepted", "consensus", 0.2),        # before the range
    (5, "accepted", "consensus", 1.0),
    (15, "accepted", "consensus", 0.9),
    (30, "review_required", None, 0.4),
    (65, "rejected", "reviewer-1", 0.3),
    (70, "accepted", "reviewer-1", 0.5),
    (80, "accepted", "consensus", math.nan),   # no finite agreement: counted, not averaged
    (130, "accepted", "consensus", 0.95),
    (180, "rejected", "reviewer-1", 0.1),      # at the end: excluded
]
# (annotator, minutes, kind, score, outcome)
SUBMISSIONS = [
    ("a", 2, "gold", 1.0, None),
    ("a", 8, "regular", 0.9, "accepted"),
    ("a", 9, "regular", None, "rejected"),
    ("a", 12, "regular", None, None),              # round still open
    ("a", 61, "gold", 0.5, None),
    ("a", 62, "qualification", 0.2, None),         # not gold accuracy
    ("b", 20, "gold", 0.0, None),
    ("b", 25, "regular", 0.7, "accepted"),
    ("b", 26, "regular", None, "rejected"),
    ("b", 121, "regular", None, "rejected"),
    ("b", 122, "gold", 1.0, None),
    ("b", -30, "gold", 0.0, None),                 # before the range
]


@pytest_asyncio.fixture
async def pool() -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool("qa", "annotary_qa") as pool:
        yield pool


@pytest_asyncio.fixture
async def stub(pool: asyncpg.Pool) -> AsyncIterator[dashboards_pb2_grpc.QaDashboardServiceAsyncStub]:
    server = grpc.aio.server()
    register(pool, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield dashboards_pb2_grpc.QaDashboardServiceStub(channel)
    finally:
        await channel.close(None)
        await server.stop(None)


async def seed(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        for minutes, outcome, by, agreement in DECISIONS:
            await conn.execute(
                "INSERT INTO decisions (item_id, round, project_id, schema_version, outcome, agreement, decided_by,"
                " decided_at) VALUES ($1, 1, $2, 1, $3, $4, $5, $6)",
                uuid.uuid4(), PROJECT, outcome, agreement, by, T0 + timedelta(minutes=minutes))
        # another project's rows never count
        await conn.execute(
            "INSERT INTO decisions (item_id, round, project_id, schema_version, outcome, agreement, decided_at)"
            " VALUES ($1, 1, 'other', 1, 'accepted', 1, $2)", uuid.uuid4(), T0)
        for annotator, minutes, kind, score, outcome in SUBMISSIONS:
            await conn.execute(
                "INSERT INTO submissions (item_id, round, annotator_id, task_id, project_id, kind, valid,"
                " submitted_at, score, outcome) VALUES ($1, 1, $2, $3, $4, $5, true, $6, $7, $8)",
                uuid.uuid4(), annotator, str(uuid.uuid4()), PROJECT, kind, T0 + timedelta(minutes=minutes), score,
                outcome)


def request(start: datetime, end: datetime, bucket: str = "hour",
            project: str = PROJECT) -> dashboards_pb2.GetQualityTimelineRequest:
    return dashboards_pb2.GetQualityTimelineRequest(project_id=project, start=timestamp(start), end=timestamp(end),
                                                    bucket=bucket)


async def test_quality_timeline_by_hour(pool: asyncpg.Pool,
                                        stub: dashboards_pb2_grpc.QaDashboardServiceAsyncStub) -> None:
    await seed(pool)
    reply = await stub.GetQualityTimeline(request(T0, T0 + timedelta(hours=3)), timeout=10)

    expected: dict[datetime, dict[str, Any]] = defaultdict(lambda: defaultdict(float))
    for minutes, outcome, by, agreement in DECISIONS:
        if not 0 <= minutes < 180:
            continue
        e = expected[T0 + timedelta(hours=minutes // 60)]
        e["decided"] += 1
        e["accepted"] += outcome == "accepted"
        e["rejected"] += outcome == "rejected"
        e["reviewed"] += by != "consensus"
        e["in_review"] += outcome == "review_required"
        if not math.isnan(agreement):
            e["agreement_scored"] += 1
            e["agreement_sum"] += agreement
    got = {d.bucket_start.ToDatetime(tzinfo=UTC): {k: getattr(d, k) for k in expected[T0]} for d in reply.decisions}
    assert got.keys() == expected.keys()
    for bucket, figures in expected.items():
        assert got[bucket] == pytest.approx(dict(figures)), bucket

    people: dict[tuple[datetime, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for annotator, minutes, kind, score, outcome in SUBMISSIONS:
        if not 0 <= minutes < 180:
            continue
        p = people[(T0 + timedelta(hours=minutes // 60), annotator)]
        p["closed"] += 0
        if kind == "gold":
            p["gold_scored"] += 1
            p["gold_sum"] += score or 0.0
        if kind == "regular" and outcome is not None:
            p["closed"] += 1
            p["rejected"] += outcome == "rejected"
        if kind == "regular" and outcome == "accepted" and score is not None:
            p["agreement_scored"] += 1
            p["agreement_sum"] += score
    keys = ("gold_scored", "gold_sum", "agreement_scored", "agreement_sum", "closed", "rejected")
    got_people = {(a.bucket_start.ToDatetime(tzinfo=UTC), a.annotator_id): {k: getattr(a, k) for k in keys}
                  for a in reply.annotators}
    assert got_people.keys() == people.keys()
    for key, figures in people.items():
        assert got_people[key] == pytest.approx({k: figures.get(k, 0.0) for k in keys}), key


async def test_quality_timeline_by_day(pool: asyncpg.Pool,
                                       stub: dashboards_pb2_grpc.QaDashboardServiceAsyncStub) -> None:
    await seed(pool)
    day = T0.replace(hour=0)
    reply = await stub.GetQualityTimeline(request(day, day + timedelta(days=2), "day"), timeout=10)
    assert [d.bucket_start.ToDatetime(tzinfo=UTC) for d in reply.decisions] == [day]
    assert reply.decisions[0].decided == len(DECISIONS)
    gold = {a.annotator_id: (a.gold_scored, a.gold_sum) for a in reply.annotators}
    assert gold == {"a": (2, 1.5), "b": (3, 1.0)}
    empty = await stub.GetQualityTimeline(request(day, day + timedelta(days=1), "day", project="nobody"), timeout=10)
    assert not empty.decisions and not empty.annotators


async def test_bad_ranges_are_refused(stub: dashboards_pb2_grpc.QaDashboardServiceAsyncStub) -> None:
    cases = [
        (request(T0, T0 + timedelta(hours=1), "minute"), "bucket"),
        (request(T0, T0 - timedelta(hours=1)), "after start"),
        (request(T0, T0 + timedelta(hours=1), project=" "), "project_id"),
        (dashboards_pb2.GetQualityTimelineRequest(project_id=PROJECT, bucket="hour"), "start and end"),
    ]
    for req, words in cases:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.GetQualityTimeline(req, timeout=10)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert words in (err.value.details() or "")
