"""The labeling workspace's own routes (services/annotation-api/web/README.md, "Workspace API"): drafts, ambiguity
flags, comments, rework context and the interactive-assist contract.

Drafts belong to the lease: only the annotator holding a task's unexpired lease reads or writes its draft.
Flags and comments are kept here (schema ``annotation_api``, migration 002); task, item and project facts come
from the orchestrator.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

import asyncpg
import grpc
from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from annotary.orchestrator.v1 import orchestrator_pb2
from annotary_annotation_api.domain.roles import Role, at_least
from annotary_annotation_api.entrypoints.errors import ApiError
from annotary_annotation_api.service_layer import users
from annotary_annotation_api.service_layer.users import User

if TYPE_CHECKING:
    from annotary_annotation_api.entrypoints.http import Deps

MAX_DRAFT_REGIONS = 20_000
ASSIST_UNAVAILABLE = (
    "interactive assist ({kind}) needs a model served by preannotate's gRPC Predict, and none is configured "
    "for this project yet; draw the region by hand"
)


async def _user(request: Request) -> User:
    # http.py includes this router, so its auth dependency is imported when a request arrives, not at import.
    from annotary_annotation_api.entrypoints.http import current_user

    return await current_user(request)


WorkspaceUser = Annotated[User, Depends(_user)]
router = APIRouter(tags=["workspace"])


# -- request bodies --------------------------------------------------------------------------------
class DraftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    result: Annotated[list[Any], Field(max_length=MAX_DRAFT_REGIONS)]
    lead_time_ms: Annotated[int, Field(ge=0)] = 0


class FlagIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(max_length=2000)]

    @field_validator("reason")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("give a reason: what makes this item ambiguous")
        return value.strip()


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: Annotated[str, Field(max_length=10_000)]

    @field_validator("body")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a comment needs some text")
        return value.strip()


Point = Annotated[list[float], Field(min_length=2, max_length=3)]


class AssistIn(BaseModel):
    """``box_to_polygon``: ``region`` is a bbox region; ``click_to_segment``: ``points`` are ``[x, y, positive]``
    clicks in image pixels (positive 1 = inside the object, 0 = outside), optionally with a ``region`` to refine."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["box_to_polygon", "click_to_segment"]
    label: str | None = None
    region: dict[str, Any] | None = None
    points: Annotated[list[Point], Field(max_length=100)] = Field(default_factory=list)

    def check(self) -> None:
        if self.kind == "box_to_polygon":
            box = self.region or {}
            if box.get("type") != "bbox" or not all(isinstance(box.get(k), int | float) for k in ("x", "y", "w", "h")):
                raise ApiError(422, 'region: box_to_polygon needs a bbox region {"type": "bbox", "x", "y", "w", "h"}')
        elif not self.points:
            raise ApiError(422, "points: click_to_segment needs at least one [x, y, positive] click")


# -- helpers -----------------------------------------------------------------------------------------
def _deps(request: Request) -> Deps:
    deps: Deps = request.app.state.deps
    return deps


def _task_uuid(task_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(task_id)
    except ValueError as exc:
        raise ApiError(404, f"task {task_id!r} not found") from exc


async def _task(deps: Deps, task_id: str) -> orchestrator_pb2.Task:
    _task_uuid(task_id)
    try:
        reply = await deps.clients.orchestrator.GetTask(
            orchestrator_pb2.GetTaskRequest(task_id=task_id), timeout=deps.clients.timeout_s
        )
    except grpc.aio.AioRpcError as exc:  # the same answer as for a task of someone else (no id probing)
        if exc.code() == grpc.StatusCode.NOT_FOUND:
            raise ApiError(404, f"task {task_id} not found") from None
        raise
    return reply.task


async def _visible_task(deps: Deps, task_id: str, user: User) -> orchestrator_pb2.Task:
    """The task for its assignee, reviewers and managers; 404 for anyone else (as GET /tasks/{id})."""
    task = await _task(deps, task_id)
    if task.annotator_id != str(user.id) and not at_least(user.role, Role.REVIEWER):
        raise ApiError(404, f"task {task_id} not found")
    return task


def _lease_expired(task: orchestrator_pb2.Task) -> bool:
    if not task.HasField("lease_expires_at"):
        return False
    return task.lease_expires_at.ToDatetime(tzinfo=UTC) <= datetime.now(UTC)


async def _held_task(deps: Deps, task_id: str, user: User) -> orchestrator_pb2.Task:
    """The task when ``user`` holds its unexpired lease: 404 for tasks of others, 409 once it is not held."""
    task = await _task(deps, task_id)
    if task.annotator_id != str(user.id):
        raise ApiError(404, f"task {task_id} not found")
    if task.state != "assigned" or _lease_expired(task):
        state = "expired" if task.state == "assigned" else task.state
        raise ApiError(409, f"task {task_id} is {state}: drafts are kept only while you hold its lease")
    return task


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _draft_view(task_id: str, row: asyncpg.Record) -> dict[str, Any]:
    draft = json.loads(row["draft"])
    return {
        "task_id": task_id,
        "result": draft.get("result", []),
        "lead_time_ms": draft.get("lead_time_ms", 0),
        "updated_at": _iso(row["updated_at"]),
    }


def _flag_view(row: asyncpg.Record, username: str | None) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "task_id": str(row["task_id"]),
        "item_id": str(row["item_id"]),
        "project_id": str(row["project_id"]),
        "user_id": str(row["user_id"]),
        "username": username,
        "reason": row["reason"],
        "created_at": _iso(row["created_at"]),
    }


def _comment_view(row: asyncpg.Record, names: dict[str, str]) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "item_id": str(row["item_id"]),
        "task_id": str(row["task_id"]),
        "user_id": str(row["user_id"]),
        "username": names.get(str(row["user_id"])),
        "body": row["body"],
        "created_at": _iso(row["created_at"]),
    }


# -- drafts --------------------------------------------------------------------------------------------
@router.get("/tasks/{task_id}/draft", response_model=None)
async def get_draft(task_id: str, request: Request, user: WorkspaceUser) -> dict[str, Any] | Response:
    """The draft saved for this held task; 204 when there is none."""
    deps = _deps(request)
    await _held_task(deps, task_id, user)
    async with deps.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT draft::text AS draft, updated_at FROM task_drafts WHERE task_id = $1 AND user_id = $2",
            _task_uuid(task_id),
            user.id,
        )
    if row is None:
        return Response(status_code=204)
    return _draft_view(task_id, row)


@router.put("/tasks/{task_id}/draft")
async def put_draft(task_id: str, body: DraftIn, request: Request, user: WorkspaceUser) -> dict[str, Any]:
    """Save the work in progress (the regions as they are, and the lead time so far)."""
    deps = _deps(request)
    task = await _held_task(deps, task_id, user)
    draft = json.dumps({"result": body.result, "lead_time_ms": body.lead_time_ms})
    async with deps.pool.acquire() as conn:
        row = await conn.fetchrow(
            "INSERT INTO task_drafts (task_id, user_id, project_id, draft) VALUES ($1, $2, $3, $4::jsonb)"
            " ON CONFLICT (task_id) DO UPDATE SET user_id = EXCLUDED.user_id, draft = EXCLUDED.draft,"
            " updated_at = now()"
            " RETURNING draft::text AS draft, updated_at",
            _task_uuid(task_id),
            user.id,
            uuid.UUID(task.project_id),
            draft,
        )
    return _draft_view(task_id, row)


@router.delete("/tasks/{task_id}/draft", status_code=204, response_model=None)
async def delete_draft(task_id: str, request: Request, user: WorkspaceUser) -> Response:
    """Drop the draft (after a submit or skip); only its author may, whatever the task's state."""
    deps = _deps(request)
    await _visible_task(deps, task_id, user)
    async with deps.pool.acquire() as conn:
        await conn.execute("DELETE FROM task_drafts WHERE task_id = $1 AND user_id = $2", _task_uuid(task_id), user.id)
    return Response(status_code=204)


# -- flags ---------------------------------------------------------------------------------------------
@router.post("/tasks/{task_id}/flag", status_code=201)
async def flag_task(task_id: str, body: FlagIn, request: Request, user: WorkspaceUser) -> dict[str, Any]:
    """Flag the task's item as ambiguous, with the reason; its assignee, reviewers and managers may."""
    deps = _deps(request)
    task = await _visible_task(deps, task_id, user)
    async with deps.pool.acquire() as conn:
        row = await conn.fetchrow(
            "INSERT INTO task_flags (id, task_id, item_id, project_id, user_id, reason)"
            " VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
            uuid.uuid4(),
            _task_uuid(task_id),
            uuid.UUID(task.item.item_id),
            uuid.UUID(task.project_id),
            user.id,
            body.reason,
        )
    return _flag_view(row, user.username)


@router.get("/tasks/{task_id}/flags")
async def task_flags(task_id: str, request: Request, user: WorkspaceUser) -> list[dict[str, Any]]:
    deps = _deps(request)
    await _visible_task(deps, task_id, user)
    async with deps.pool.acquire() as conn:
        rows = await conn.fetch("SELECT * FROM task_flags WHERE task_id = $1 ORDER BY created_at", _task_uuid(task_id))
        names = await users.usernames(conn, [str(r["user_id"]) for r in rows])
    return [_flag_view(r, names.get(str(r["user_id"]))) for r in rows]


@router.get("/projects/{project_id}/flags")
async def project_flags(project_id: str, request: Request, user: WorkspaceUser, limit: int = 200) -> list[Any]:
    """The project's flagged items, newest first (reviewers and managers)."""
    try:
        pid = uuid.UUID(project_id)
    except ValueError as exc:
        raise ApiError(404, f"project {project_id!r} not found") from exc
    deps = _deps(request)
    async with deps.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT * FROM task_flags WHERE project_id = $1 ORDER BY created_at DESC LIMIT $2",
            pid,
            max(1, min(limit, 1000)),
        )
        names = await users.usernames(conn, [str(r["user_id"]) for r in rows])
    return [_flag_view(r, names.get(str(r["user_id"]))) for r in rows]


# -- comments ------------------------------------------------------------------------------------------
@router.get("/tasks/{task_id}/comments")
async def list_comments(task_id: str, request: Request, user: WorkspaceUser) -> list[dict[str, Any]]:
    """Every comment on the task's item (all rounds), oldest first."""
    deps = _deps(request)
    task = await _visible_task(deps, task_id, user)
    async with deps.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT * FROM item_comments WHERE item_id = $1 ORDER BY created_at, id", uuid.UUID(task.item.item_id)
        )
        names = await users.usernames(conn, [str(r["user_id"]) for r in rows])
    return [_comment_view(r, names) for r in rows]


@router.post("/tasks/{task_id}/comments", status_code=201)
async def add_comment(task_id: str, body: CommentIn, request: Request, user: WorkspaceUser) -> dict[str, Any]:
    deps = _deps(request)
    task = await _visible_task(deps, task_id, user)
    async with deps.pool.acquire() as conn:
        row = await conn.fetchrow(
            "INSERT INTO item_comments (id, item_id, project_id, task_id, user_id, body)"
            " VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
            uuid.uuid4(),
            uuid.UUID(task.item.item_id),
            uuid.UUID(task.project_id),
            _task_uuid(task_id),
            user.id,
            body.body,
        )
    return _comment_view(row, {str(user.id): user.username})


# -- rework: the rejected round's annotation and the reviewer's feedback --------------------------------
@router.get("/tasks/{task_id}/rework")
async def rework(task_id: str, request: Request, user: WorkspaceUser) -> dict[str, Any]:
    """For a task in round > 1: the reviewer's feedback and the annotation of the rejected round (the
    holder's own when there are several), so the UI can show one next to the other; ``previous`` is null in
    round 1."""
    deps = _deps(request)
    task = await _visible_task(deps, task_id, user)
    out: dict[str, Any] = {"round": task.round or 1, "feedback": task.feedback or None, "previous": None}
    if (task.round or 1) <= 1 or task.is_gold:
        return out
    history = await deps.clients.orchestrator.GetItemHistory(
        orchestrator_pb2.GetItemHistoryRequest(item_id=task.item.item_id), timeout=deps.clients.timeout_s
    )
    seen = {task_id}
    candidates: list[orchestrator_pb2.Task] = []
    for entry in history.entries:
        if entry.task_id in seen or entry.to_state != "submitted":
            continue
        seen.add(entry.task_id)
        try:
            earlier = await _task(deps, entry.task_id)
        except grpc.aio.AioRpcError:
            continue
        if earlier.round < task.round and earlier.state == "submitted" and earlier.result_json:
            candidates.append(earlier)
    if candidates:
        last = max(c.round for c in candidates)
        mine = [c for c in candidates if c.round == last and c.annotator_id == str(user.id)]
        chosen = (mine or [c for c in candidates if c.round == last])[0]
        out["previous"] = {"round": chosen.round, "task_id": chosen.task_id, "result": json.loads(chosen.result_json)}
    return out


# -- interactive assist -------------------------------------------------------------------------------
@router.post("/tasks/{task_id}/assist")
async def assist(task_id: str, body: AssistIn, request: Request, user: WorkspaceUser) -> dict[str, Any]:
    """The contract for click-to-segment and box-to-polygon: ``{"regions": [...], "model_version"}`` once
    preannotate serves an interactive model. Until then 501 (the request is still checked: 404/409/422 first)."""
    body.check()
    await _held_task(_deps(request), task_id, user)
    raise ApiError(501, ASSIST_UNAVAILABLE.format(kind=body.kind), kind=body.kind)
