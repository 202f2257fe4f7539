"""The OrchestratorDashboardService gRPC servicer: read-only aggregates for the dashboards."""

from __future__ import annotations

from typing import Any

import asyncpg
import grpc

from annotary.orchestrator.v1 import dashboards_pb2, dashboards_pb2_grpc
from annotary_common.grpc_util import InvalidArgument, handles_errors
from annotary_common.timeline import BadRange, TimeRange, timestamp
from annotary_orchestrator.service_layer import dashboards

SERVICE_NAME = "annotary.orchestrator.v1.OrchestratorDashboardService"

Context = grpc.aio.ServicerContext[Any, Any]


def time_range(request: dashboards_pb2.GetWorkTimelineRequest) -> TimeRange:
    if not request.HasField("start") or not request.HasField("end"):
        raise InvalidArgument("start and end are required")
    try:
        return TimeRange.from_proto(request.start, request.end, request.bucket)
    except BadRange as exc:
        raise InvalidArgument(str(exc)) from None


def task_time(figures: dashboards.TaskTime) -> dashboards_pb2.TaskTimeFigures:
    out = dashboards_pb2.TaskTimeFigures(annotator_id=figures.annotator_id, tasks=figures.tasks,
                                         median_ms=figures.median_ms, p95_ms=figures.p95_ms)
    if figures.bucket_start is not None:
        out.bucket_start.CopyFrom(timestamp(figures.bucket_start))
    return out


class OrchestratorDashboardServicer(dashboards_pb2_grpc.OrchestratorDashboardServiceServicer):
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @handles_errors
    async def GetWorkTimeline(self, request: dashboards_pb2.GetWorkTimelineRequest,
                              context: Context) -> dashboards_pb2.GetWorkTimelineResponse:
        rng = time_range(request)
        async with self._pool.acquire() as conn:
            found = await dashboards.work_timeline(conn, request.project_id, rng)
        return dashboards_pb2.GetWorkTimelineResponse(
            throughput=[dashboards_pb2.ThroughputPoint(bucket_start=timestamp(t.bucket_start),
                                                       annotator_id=t.annotator_id, task_type=t.task_type,
                                                       submissions=t.submissions) for t in found.throughput],
            task_time=[task_time(f) for f in found.task_time],
            task_time_series=[task_time(f) for f in found.task_time_series],
            queue_now=dashboards_pb2.QueueDepthPoint(states=found.queue_now),
            queue_depth=[dashboards_pb2.QueueDepthPoint(at=timestamp(at), states=states)
                         for at, states in found.queue_depth],
        )


def register(pool: asyncpg.Pool, server: grpc.aio.Server) -> None:
    dashboards_pb2_grpc.add_OrchestratorDashboardServiceServicer_to_server(OrchestratorDashboardServicer(pool), server)
