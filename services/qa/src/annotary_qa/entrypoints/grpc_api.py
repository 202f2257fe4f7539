"""gRPC QaService: configuration, validation, quality figures, annotator metrics and reviews."""

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
from annotary_qa.service_layer import projects, quality, relabel, reviews

SERVICE_NAME = "annotary.qa.v1.QaService"

Context = grpc.aio.ServicerContext[Any, Any]


def _project_id(value: str) -> str:
    if not value.strip():
        raise InvalidArgument("project_id: is required")
    return value


class QaServicer(qa_pb2_grpc.QaServiceServicer):
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @handles_errors
    async def ConfigureProject(self, request: qa_pb2.ConfigureProjectRequest,
                               context: Context) -> qa_pb2.ConfigureProjectResponse:
        try:
            config = projects.check_config(
                request.project_id, request.schema_json, request.schema_version, request.agreement_threshold,
                request.review, gold_min_accuracy=request.gold_min_accuracy,
                qualification_items=request.qualification_items,
                qualification_min_accuracy=request.qualification_min_accuracy, overlap=request.overlap,
            )
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
                                 context: Context) -> qa_pb2.ValidateAnnotationResponse:
        _project_id(request.project_id)
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

    @handles_errors
    async def GetProjectQuality(self, request: qa_pb2.GetProjectQualityRequest,
                                context: Context) -> qa_pb2.GetProjectQualityResponse:
        try:
            async with self._pool.acquire() as conn:
                figures = await quality.project_quality(conn, _project_id(request.project_id))
        except projects.UnknownProject as exc:
            raise NotFound(f"project_id: {exc}") from exc
        return qa_pb2.GetProjectQualityResponse(
            agreement=figures.agreement, items_decided=figures.items_decided,
            items_accepted=figures.items_accepted, items_in_review=figures.items_in_review,
        )

    @handles_errors
    async def GetAnnotatorMetrics(self, request: qa_pb2.GetAnnotatorMetricsRequest,
                                  context: Context) -> qa_pb2.GetAnnotatorMetricsResponse:
        try:
            async with self._pool.acquire() as conn:
                rows = await quality.annotator_metrics(conn, _project_id(request.project_id), request.annotator_id)
        except projects.UnknownProject as exc:
            raise NotFound(f"project_id: {exc}") from exc
        return qa_pb2.GetAnnotatorMetricsResponse(annotators=[
            qa_pb2.AnnotatorMetrics(
                annotator_id=r.annotator_id, submissions=r.submissions, throughput_per_hour=r.throughput_per_hour,
                gold_accuracy=r.gold_accuracy, gold_scored=r.gold_scored,
                agreement_with_consensus=r.agreement_with_consensus, rejection_rate=r.rejection_rate,
                median_lead_time_ms=r.median_lead_time_ms, p95_lead_time_ms=r.p95_lead_time_ms, paused=r.paused,
                pause_reason=r.pause_reason,
            ) for r in rows
        ])

    @handles_errors
    async def ReinstateAnnotator(self, request: qa_pb2.ReinstateAnnotatorRequest,
                                 context: Context) -> qa_pb2.ReinstateAnnotatorResponse:
        project_id = _project_id(request.project_id)
        if not request.annotator_id.strip():
            raise InvalidArgument("annotator_id: is required")
        if not request.actor.strip():
            raise InvalidArgument("actor: is required (the manager's id)")
        try:
            async with self._pool.acquire() as conn:
                await quality.reinstate(conn, project_id, request.annotator_id, request.actor)
        except projects.UnknownProject as exc:
            raise NotFound(f"project_id: {exc}") from exc
        return qa_pb2.ReinstateAnnotatorResponse()

    @handles_errors
    async def ListReviews(self, request: qa_pb2.ListReviewsRequest, context: Context) -> qa_pb2.ListReviewsResponse:
        if request.limit < 0:
            raise InvalidArgument(f"limit: must be >= 0 (0: the default {reviews.DEFAULT_LIST_LIMIT}), "
                                  f"got {request.limit}")
        try:
            async with self._pool.acquire() as conn:
                rows = await reviews.list_reviews(conn, _project_id(request.project_id), request.limit)
        except projects.UnknownProject as exc:
            raise NotFound(f"project_id: {exc}") from exc
        return qa_pb2.ListReviewsResponse(reviews=[
            qa_pb2.ReviewItem(item=r.item, submissions=r.submissions, reason=r.reason, agreement=r.agreement,
                              round=r.round) for r in rows
        ])

    @handles_errors
    async def SubmitReview(self, request: qa_pb2.SubmitReviewRequest,
                           context: Context) -> qa_pb2.SubmitReviewResponse:
        try:
            async with self._pool.acquire() as conn:
                outcome = await reviews.submit_review(
                    conn, _project_id(request.project_id), request.item_id, request.round, request.decision,
                    request.result_json, request.feedback, request.reviewer_id,
                )
        except reviews.ReviewError as exc:
            raise InvalidArgument(str(exc)) from exc
        except reviews.NotInReview as exc:
            raise FailedPrecondition(str(exc)) from exc
        except projects.UnknownProject as exc:
            raise NotFound(f"project_id: {exc}") from exc
        return qa_pb2.SubmitReviewResponse(outcome=outcome)

    @handles_errors
    async def PauseAnnotator(self, request: qa_pb2.PauseAnnotatorRequest,
                             context: Context) -> qa_pb2.PauseAnnotatorResponse:
        project_id = _project_id(request.project_id)
        try:
            async with self._pool.acquire() as conn:
                paused = await relabel.pause(conn, project_id, request.annotator_id, request.reason, request.actor)
        except relabel.MigrationError as exc:
            raise InvalidArgument(str(exc)) from exc
        except projects.UnknownProject as exc:
            raise NotFound(f"project_id: {exc}") from exc
        return qa_pb2.PauseAnnotatorResponse(paused=paused)

    @handles_errors
    async def MigrateLabels(self, request: qa_pb2.MigrateLabelsRequest,
                            context: Context) -> qa_pb2.MigrateLabelsResponse:
        project_id = _project_id(request.project_id)
        try:
            async with self._pool.acquire() as conn:
                counts = await relabel.migrate_labels(conn, project_id, request.from_version, request.to_version,
                                                      dict(request.mapping), request.actor)
        except relabel.MigrationError as exc:
            raise InvalidArgument(str(exc)) from exc
        except projects.UnknownProject as exc:
            raise NotFound(f"project_id: {exc}") from exc
        return qa_pb2.MigrateLabelsResponse(migrated=counts.migrated, regions_relabeled=counts.relabeled,
                                            regions_dropped=counts.dropped)
