"""Dashboards: a project's figures over a time range for managers, and each annotator's own page.

The figures come from the services that own the data, over gRPC (DESIGN.md: no service reads another's tables):
the orchestrator's OrchestratorDashboardService (throughput, time per task, queue depth) and qa's
QaDashboardService (decisions, agreement, gold accuracy, rejections); service_layer/dashboards.py merges them.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request

from annotary.orchestrator.v1 import dashboards_pb2 as work_pb2
from annotary.orchestrator.v1 import dashboards_pb2_grpc as work_grpc
from annotary.qa.v1 import dashboards_pb2 as quality_pb2
from annotary.qa.v1 import dashboards_pb2_grpc as quality_grpc
from annotary_annotation_api.domain.roles import Role, at_least
from annotary_annotation_api.entrypoints.errors import ApiError
from annotary_annotation_api.service_layer import projects, users
from annotary_annotation_api.service_layer.dashboards import Merger
from annotary_annotation_api.service_layer.users import User
from annotary_common.timeline import BadRange, TimeRange, timestamp

if TYPE_CHECKING:
    from annotary_annotation_api.entrypoints.http import Deps

DEFAULT_SPAN = {"hour": timedelta(hours=24), "day": timedelta(days=30)}


async def _user(request: Request) -> User:
    from annotary_annotation_api.entrypoints.http import current_user  # http.py includes this router

    return await current_user(request)


DashboardUser = Annotated[User, Depends(_user)]
Start = Annotated[datetime | None, Query(description="ISO 8601; default: end minus 24 hours (hour) or 30 days (day)")]
End = Annotated[datetime | None, Query(description="ISO 8601, exclusive; default: now")]
Bucket = Annotated[Literal["hour", "day"], Query(description="UTC hours or days")]
router = APIRouter(tags=["dashboards"])


def time_range(start: datetime | None, end: datetime | None, bucket: str) -> TimeRange:
    end = end or datetime.now(UTC)
    start = start or (end.astimezone(UTC) if end.tzinfo else end) - DEFAULT_SPAN[bucket]
    try:
        return TimeRange.checked(start, end, bucket)
    except BadRange as exc:
        raise ApiError(422, str(exc)) from None


async def _merger(request: Request, project_id: str, rng: TimeRange) -> Merger:
    deps: Deps = request.app.state.deps
    try:
        pid = uuid.UUID(project_id)
    except ValueError:
        raise ApiError(404, f"project {project_id!r} not found") from None
    async with deps.pool.acquire() as conn:
        if await projects.get_project(conn, pid) is None:
            raise ApiError(404, f"project {project_id} not found")
    clients = deps.clients
    start, end = timestamp(rng.start), timestamp(rng.end)
    work, quality = await asyncio.gather(
        work_grpc.OrchestratorDashboardServiceStub(clients.channels["orchestrator"]).GetWorkTimeline(
            work_pb2.GetWorkTimelineRequest(project_id=str(pid), start=start, end=end, bucket=rng.bucket),
            timeout=clients.timeout_s,
        ),
        quality_grpc.QaDashboardServiceStub(clients.channels["qa"]).GetQualityTimeline(
            quality_pb2.GetQualityTimelineRequest(project_id=str(pid), start=start, end=end, bucket=rng.bucket),
            timeout=clients.timeout_s,
        ),
    )
    ids = {t.annotator_id for t in work.throughput} | {f.annotator_id for f in work.task_time if f.annotator_id}
    ids |= {q.annotator_id for q in quality.annotators}
    async with deps.pool.acquire() as conn:
        names = await users.usernames(conn, sorted(ids))
    return Merger(rng, work, quality, names)


@router.get("/projects/{project_id}/dashboard")
async def project_dashboard(project_id: str, request: Request, user: DashboardUser, start: Start = None,
                            end: End = None, bucket: Bucket = "hour") -> dict[str, Any]:
    """Every figure of the project over [start, end) by UTC hour or day (managers and admins)."""
    rng = time_range(start, end, bucket)
    return {"project_id": project_id, **(await _merger(request, project_id, rng)).project_view()}


@router.get("/projects/{project_id}/dashboard/annotators/{annotator_id}")
async def annotator_dashboard(project_id: str, annotator_id: str, request: Request, user: DashboardUser,
                              start: Start = None, end: End = None, bucket: Bucket = "hour") -> dict[str, Any]:
    """One annotator's figures next to the project's median (``me`` for yourself). Annotators and reviewers see
    only their own; managers see anyone's."""
    target = str(user.id) if annotator_id == "me" else annotator_id
    if target != str(user.id) and not at_least(user.role, Role.MANAGER):
        raise ApiError(403, "you can see only your own figures (annotators/me)")
    rng = time_range(start, end, bucket)
    view = (await _merger(request, project_id, rng)).annotator_view(target)
    if view["annotator"]["username"] is None and target == str(user.id):
        view["annotator"]["username"] = user.username
    return {"project_id": project_id, **view}
