"""The dashboards' work timeline on the real Postgres, over gRPC: throughput per bucket by annotator and task type,
time per task (lease to submit) and queue depth rebuilt from the item history. Rows are written with known times and
the expected figures computed here, independently (a reference percentile and a history replay)."""

from __future__ import annotations

import math
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import grpc
import pytest
import pytest_asyncio

from annotary.orchestrator.v1 import dashboards_pb2, dashboards_pb2_grpc
from annotary_common.testing import migrated_pool
from annotary_common.timeline import timestamp
from annotary_orchestrator.entrypoints.dashboards_grpc import register

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
A, B = "annotator-a", "annotator-b"
# (annotator, submitted at (minutes after T0), lease-to-submit seconds, task type)
WORK = [
    (A, -1, 50, "regular"),       # before the range
    (A, 5, 60, "regular"),
    (A, 20, 120, "regular"),
    (A, 70, 30, "gold"),
    (A, 100, 300, "rework"),
    (B, 30, 90, "regular"),
    (B, 135, 45, "qualification"),
    (B, 170, 600, "regular"),
    (B, 179, 33, "regular"),
    (A, 180, 70, "regular"),      # at the range's end: excluded
]
# item -> [(minutes after T0, from, to)]
HISTORY = {
    1: [(-60, None, "unassigned"), (10, "unassigned", "assigned"), (40, "assigned", "submitted"),
        (90, "submitted", "accepted")],
    2: [(-30, None, "unassigned"), (125, "unassigned", "assigned")],
    3: [(75, None, "unassigned")],
    4: [(-60, None, "gold")],
    5: [(-20, None, "unassigned"), (-10, "unassigned", "assigned"), (50, "assigned", "submitted"),
        (55, "submitted", "under_review"), (150, "under_review", "rejected"), (150, "rejected", "unassigned")],
}


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (what percentile_cont does), written out."""
    s = sorted(values)
    pos = (len(s) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


@pytest_asyncio.fixture
async def pool() -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool("orchestrator", "annotary_orchestrator") as pool:
        yield pool


@pytest_asyncio.fixture
async def stub(pool: asyncpg.Pool) -> AsyncIterator[dashboards_pb2_grpc.OrchestratorDashboardServiceAsyncStub]:
    server = grpc.aio.server()
    register(pool, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield dashboards_pb2_grpc.OrchestratorDashboardServiceStub(channel)
    finally:
        await channel.close(None)
        await server.stop(None)


async def seed(pool: asyncpg.Pool) -> str:
    pid = uuid.uuid4()
    async with pool.acquire() as conn:
        await conn.execute("INSERT INTO projects (id, policy) VALUES ($1, '{}')", pid)
        items = {}
        for n, moves in HISTORY.items():
            item_id = uuid.uuid4()
            items[n] = item_id
            await conn.execute("INSERT INTO items (item_id, project_id, state, snapshot) VALUES ($1, $2, $3, '')",
                               item_id, pid, moves[-1][2])
            for minutes, from_state, to_state in moves:
                await conn.execute(
                    "INSERT INTO item_history (subject, item_id, actor, from_state, to_state, at)"
                    " VALUES ('item', $1, 'test', $2, $3, $4)",
                    item_id, from_state, to_state, T0 + timedelta(minutes=minutes))
        # each task on an item of its own, kept in another project so that the queue figures see only HISTORY
        other = uuid.uuid4()
        await conn.execute("INSERT INTO projects (id, policy) VALUES ($1, '{}')", other)
        for annotator, minutes, seconds, kind in WORK:
            done = T0 + timedelta(minutes=minutes)
            item_id = uuid.uuid4()
            await conn.execute("INSERT INTO items (item_id, project_id, state, snapshot) VALUES ($1, $2, $3, '')",
                               item_id, other, "submitted")
            await conn.execute(
                "INSERT INTO tasks (task_id, item_id, project_id, slot, round, state, annotator_id, leased_at,"
                " submitted_at, gold, qualification) VALUES ($1, $2, $3, 0, $4, 'submitted', $5, $6, $7, $8, $9)",
                uuid.uuid4(), item_id, pid, 2 if kind == "rework" else 1, annotator,
                done - timedelta(seconds=seconds), done, kind in ("gold", "qualification"), kind == "qualification")
        # a lease still open counts nowhere
        await conn.execute(
            "INSERT INTO tasks (task_id, item_id, project_id, slot, round, state, annotator_id, leased_at)"
            " VALUES ($1, $2, $3, 99, 1, 'assigned', $4, $5)", uuid.uuid4(), items[2], pid, A, T0)
    return str(pid)


def request(pid: str, start: datetime, end: datetime, bucket: str) -> dashboards_pb2.GetWorkTimelineRequest:
    return dashboards_pb2.GetWorkTimelineRequest(project_id=pid, start=timestamp(start), end=timestamp(end),
                                                 bucket=bucket)


@pytest.mark.asyncio
async def test_work_timeline_by_hour(pool: asyncpg.Pool,
                                     stub: dashboards_pb2_grpc.OrchestratorDashboardServiceAsyncStub) -> None:
    pid = await seed(pool)
    end = T0 + timedelta(hours=3)
    reply = await stub.GetWorkTimeline(request(pid, T0, end, "hour"), timeout=10)
    inside = [w for w in WORK if 0 <= w[1] < 180]

    expected = Counter((T0 + timedelta(hours=m // 60), a, kind) for a, m, _, kind in inside)
    got = Counter({(t.bucket_start.ToDatetime(tzinfo=UTC), t.annotator_id, t.task_type): t.submissions
                   for t in reply.throughput})
    assert got == expected

    def figures(values: list[float]) -> tuple[int, float, float]:
        return len(values), percentile(values, 0.5), percentile(values, 0.95)

    times = {f.annotator_id: (f.tasks, f.median_ms, f.p95_ms) for f in reply.task_time}
    assert times[""] == pytest.approx(figures([s * 1000.0 for _, _, s, _ in inside]))
    for who in (A, B):
        assert times[who] == pytest.approx(figures([s * 1000.0 for a, _, s, _ in inside if a == who]))
    series = {f.bucket_start.ToDatetime(tzinfo=UTC): (f.tasks, f.median_ms, f.p95_ms) for f in reply.task_time_series}
    for hour in range(3):
        values = [s * 1000.0 for _, m, s, _ in inside if m // 60 == hour]
        assert series[T0 + timedelta(hours=hour)] == pytest.approx(figures(values))

    # queue depth: replay the history up to each bucket's end
    def states_at(at: datetime) -> dict[str, int]:
        now: dict[int, str] = {}
        for n, moves in HISTORY.items():
            for minutes, _, to_state in moves:
                if T0 + timedelta(minutes=minutes) < at:
                    now[n] = to_state
        return dict(Counter(now.values()))

    assert [(q.at.ToDatetime(tzinfo=UTC), dict(q.states)) for q in reply.queue_depth] == [
        (T0 + timedelta(hours=h), states_at(T0 + timedelta(hours=h))) for h in (1, 2, 3)]
    assert dict(reply.queue_now.states) == dict(Counter(moves[-1][2] for moves in HISTORY.values()))


@pytest.mark.asyncio
async def test_work_timeline_by_day_and_partial_range(
        pool: asyncpg.Pool, stub: dashboards_pb2_grpc.OrchestratorDashboardServiceAsyncStub) -> None:
    pid = await seed(pool)
    start = T0 + timedelta(minutes=10)  # not aligned: the day bucket starts at midnight, the range at 10:10
    day = T0.replace(hour=0)
    reply = await stub.GetWorkTimeline(request(pid, start, day + timedelta(days=1), "day"), timeout=10)
    inside = [w for w in WORK if w[1] >= 10]
    got = Counter({(t.bucket_start.ToDatetime(tzinfo=UTC), t.annotator_id, t.task_type): t.submissions
                   for t in reply.throughput})
    assert got == Counter((day, a, kind) for a, _, _, kind in inside)
    assert [f.bucket_start.ToDatetime(tzinfo=UTC) for f in reply.task_time_series] == [day]
    assert reply.task_time_series[0].tasks == len(inside)
    assert len(reply.queue_depth) == 1 and reply.queue_depth[0].at.ToDatetime(tzinfo=UTC) == day + timedelta(days=1)


@pytest.mark.asyncio
async def test_bad_ranges_are_refused(pool: asyncpg.Pool,
                                      stub: dashboards_pb2_grpc.OrchestratorDashboardServiceAsyncStub) -> None:
    pid = await seed(pool)
    cases = [
        (request(pid, T0, T0 + timedelta(hours=1), "week"), "bucket"),
        (request(pid, T0, T0, "hour"), "after start"),
        (request(pid, T0, T0 + timedelta(days=400), "hour"), "buckets"),
        (request("not-a-uuid", T0, T0 + timedelta(hours=1), "hour"), "project_id"),
        (dashboards_pb2.GetWorkTimelineRequest(project_id=pid, bucket="hour"), "start and end"),
    ]
    for req, words in cases:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.GetWorkTimeline(req, timeout=10)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert words in (err.value.details() or "")
