"""The QaDashboardService gRPC servicer: read-only aggregates for the dashboards."""

from __future__ import annotations

from typing import Any

import asyncpg
import grpc

from annotary.qa.v1 import dashboards_pb2, dashboards_pb2_grpc
from annotary_common.grpc_util import InvalidArgument, handles_errors
from annotary_common.timeline import BadRange, TimeRange, timestamp
from annotary_qa.service_layer import dashboards

SERVICE_NAME = "annotary.qa.v1.QaDashboardService"

Context = grpc.aio.ServicerContext[Any, Any]


class QaDashboardServicer(dashboards_pb2_grpc.QaDashboardServiceServicer):
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @handles_errors
    async def GetQualityTimeline(self, request: dashboards_pb2.GetQualityTimelineRequest,
                                 context: Context) -> dashboards_pb2.GetQualityTimelineResponse:
        if not request.HasField("start") or not request.HasField("end"):
            raise InvalidArgument("start and end are required")
        try:
            rng = TimeRange.from_proto(request.start, request.end, request.bucket)
        except BadRange as exc:
            raise InvalidArgument(str(exc)) from None
        async with self._pool.acquire() as conn:
            decided = await dashboards.decisions(conn, request.project_id, rng)
            people = await dashboards.annotators(conn, request.project_id, rng)
        return dashboards_pb2.GetQualityTimelineResponse(
            decisions=[dashboards_pb2.DecisionPoint(
                bucket_start=timestamp(d.bucket_start), decided=d.decided, accepted=d.accepted, rejected=d.rejected,
                reviewed=d.reviewed, in_review=d.in_review, agreement_scored=d.agreement_scored,
                agreement_sum=d.agreement_sum) for d in decided],
            annotators=[dashboards_pb2.AnnotatorQualityPoint(
                bucket_start=timestamp(a.bucket_start), annotator_id=a.annotator_id, gold_scored=a.gold_scored,
                gold_sum=a.gold_sum, agreement_scored=a.agreement_scored, agreement_sum=a.agreement_sum,
                closed=a.closed, rejected=a.rejected) for a in people],
        )


def register(pool: asyncpg.Pool, server: grpc.aio.Server) -> None:
    dashboards_pb2_grpc.add_QaDashboardServiceServicer_to_server(QaDashboardServicer(pool), server)
