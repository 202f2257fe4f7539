"""The OrchestratorService gRPC servicer: request fields in, service-layer calls, responses out."""

from __future__ import annotations

from typing import Any

import asyncpg
import grpc

from annotary.orchestrator.v1 import orchestrator_pb2, orchestrator_pb2_grpc
from annotary_common.grpc_util import InvalidArgument, handles_errors
from annotary_orchestrator.service_layer import leasing, projects, submitting, views

SERVICE_NAME = "annotary.orchestrator.v1.OrchestratorService"

Context = grpc.aio.ServicerContext[Any, Any]


class OrchestratorServicer(orchestrator_pb2_grpc.OrchestratorServiceServicer):
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @handles_errors
    async def ConfigureProject(self, request: orchestrator_pb2.ConfigureProjectRequest,
                               context: Context) -> orchestrator_pb2.ConfigureProjectResponse:
        if not request.HasField("policy"):
            raise InvalidArgument("policy is required")
        p = request.policy
        policy = projects.policy_from_fields(
            overlap=p.overlap, lease_seconds=p.lease_seconds, agreement_threshold=p.agreement_threshold,
            gold_ratio=p.gold_ratio, gold_min_accuracy=p.gold_min_accuracy, review=p.review,
            max_active_per_annotator=p.max_active_per_annotator, max_items_per_annotator=p.max_items_per_annotator,
            qualification_items=p.qualification_items, qualification_min_accuracy=p.qualification_min_accuracy,
        )
        async with self._pool.acquire() as conn:
            await projects.configure_project(conn, request.project_id, policy, request.schema_version,
                                            request.task_type)
        return orchestrator_pb2.ConfigureProjectResponse()

    @handles_errors
    async def LeaseNextTask(self, request: orchestrator_pb2.LeaseNextTaskRequest,
                            context: Context) -> orchestrator_pb2.LeaseNextTaskResponse:
        async with self._pool.acquire() as conn:
            outcome = await leasing.lease_next_tasks(conn, request.project_id, request.annotator_id, request.count)
        if not outcome.tasks:
            return orchestrator_pb2.LeaseNextTaskResponse(found=False, reason=outcome.reason)
        return orchestrator_pb2.LeaseNextTaskResponse(found=True, task=outcome.tasks[0], tasks=outcome.tasks)

    @handles_errors
    async def Heartbeat(self, request: orchestrator_pb2.HeartbeatRequest,
                        context: Context) -> orchestrator_pb2.HeartbeatResponse:
        async with self._pool.acquire() as conn:
            expires = await leasing.heartbeat(conn, request.task_id, request.annotator_id)
        return orchestrator_pb2.HeartbeatResponse(lease_expires_at=views.timestamp(expires))

    @handles_errors
    async def SkipTask(self, request: orchestrator_pb2.SkipTaskRequest,
                       context: Context) -> orchestrator_pb2.SkipTaskResponse:
        async with self._pool.acquire() as conn:
            await leasing.skip_task(conn, request.task_id, request.annotator_id, request.reason)
        return orchestrator_pb2.SkipTaskResponse()

    @handles_errors
    async def SubmitTask(self, request: orchestrator_pb2.SubmitTaskRequest,
                         context: Context) -> orchestrator_pb2.SubmitTaskResponse:
        async with self._pool.acquire() as conn:
            outcome = await submitting.submit_task(conn, request.task_id, request.annotator_id, request.result_json,
                                                   request.lead_time_ms)
        return orchestrator_pb2.SubmitTaskResponse(task=outcome.task, item_complete=outcome.item_complete)

    @handles_errors
    async def GetTask(self, request: orchestrator_pb2.GetTaskRequest,
                      context: Context) -> orchestrator_pb2.GetTaskResponse:
        async with self._pool.acquire() as conn:
            task = await views.get_task(conn, request.task_id)
        return orchestrator_pb2.GetTaskResponse(task=task)

    @handles_errors
    async def GetProjectStats(self, request: orchestrator_pb2.GetProjectStatsRequest,
                              context: Context) -> orchestrator_pb2.GetProjectStatsResponse:
        async with self._pool.acquire() as conn:
            stats = await projects.project_stats(conn, request.project_id)
        return orchestrator_pb2.GetProjectStatsResponse(item_states=stats.item_states, task_states=stats.task_states,
                                                        submissions_last_hour=stats.submissions_last_hour,
                                                        gold_items=stats.gold_items)

    @handles_errors
    async def SetItemPriority(self, request: orchestrator_pb2.SetItemPriorityRequest,
                              context: Context) -> orchestrator_pb2.SetItemPriorityResponse:
        async with self._pool.acquire() as conn:
            updated = await projects.set_item_priority(conn, request.project_id, list(request.item_ids),
                                                       request.priority)
        return orchestrator_pb2.SetItemPriorityResponse(updated=updated)

    @handles_errors
    async def GetItemHistory(self, request: orchestrator_pb2.GetItemHistoryRequest,
                             context: Context) -> orchestrator_pb2.GetItemHistoryResponse:
        async with self._pool.acquire() as conn:
            entries = await views.get_item_history(conn, request.item_id)
        return orchestrator_pb2.GetItemHistoryResponse(entries=entries)
