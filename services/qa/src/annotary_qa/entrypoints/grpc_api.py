"""gRPC QaService: ConfigureProject and ValidateAnnotation."""

from __future__ import annotations

from typing import Any

import asyncpg
import grpc

from annotary.qa.v1 import qa_pb2, qa_pb2_grpc
from annotary_common.grpc_util import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    handles_errors,
)
from annotary_qa.domain.policy import PolicyError
from annotary_qa.domain.schema import SchemaError
from annotary_qa.service_layer import projects

SERVICE_NAME = "annotary.qa.v1.QaService"


class QaServicer(qa_pb2_grpc.QaServiceServicer):
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @handles_errors
    async def ConfigureProject(self, request: qa_pb2.ConfigureProjectRequest,
                               context: grpc.aio.ServicerContext[Any, Any]) -> qa_pb2.ConfigureProjectResponse:
        try:
            config = projects.check_config(request.project_id, request.schema_json, request.schema_version,
                                           request.agreement_threshold, request.review)
        except (SchemaError, PolicyError) as exc:
            raise InvalidArgument(str(exc)) from exc
        try:
            async with self._pool.acquire() as conn:
                await projects.configure_project(conn, config)
        except projects.StaleSchemaVersion as exc:
            raise FailedPrecondition(str(exc)) from exc
        return qa_pb2.ConfigureProjectResponse()

    @handles_errors
    async def ValidateAnnotation(self, request: qa_pb2.ValidateAnnotationRequest,
                                 context: grpc.aio.ServicerContext[Any, Any]) -> qa_pb2.ValidateAnnotationResponse:
        if not request.project_id.strip():
            raise InvalidArgument("project_id: is required")
        if request.item.project_id and request.item.project_id != request.project_id:
            raise InvalidArgument(f"item.project_id: {request.item.project_id!r} differs from project_id "
                                  f"{request.project_id!r}")
        try:
            async with self._pool.acquire() as conn:
                violations = await projects.validate_annotation(conn, request.project_id, request.item,
                                                                request.result_json)
        except projects.UnknownProject as exc:
            raise NotFound(f"project_id: {exc}") from exc
        return qa_pb2.ValidateAnnotationResponse(
            valid=not violations,
            violations=[qa_pb2.Violation(rule=v.rule, message=v.message, region_index=v.region_index)
                        for v in violations],
        )
