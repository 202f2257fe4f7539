"""The REST API v1 (DESIGN.md "Public formats, v1") and the web UI."""

from __future__ import annotations

import json
import math
import mimetypes
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import TypeAdapter, ValidationError
from starlette.datastructures import UploadFile

from annotary.export.v1 import export_pb2
from annotary.ingest.v1 import ingest_pb2
from annotary.orchestrator.v1 import orchestrator_pb2
from annotary.qa.v1 import qa_pb2
from annotary_annotation_api.adapters.clients import Clients
from annotary_annotation_api.domain.models import (
    ExportIn,
    ItemIn,
    LeaseIn,
    PriorityIn,
    ProjectIn,
    ProjectPatch,
    ReviewIn,
    SkipIn,
    SourceIn,
    SubmitIn,
    UserIn,
)
from annotary_annotation_api.domain.roles import Role, at_least
from annotary_annotation_api.entrypoints import dashboards, datasets, models, security
from annotary_annotation_api.entrypoints.access import authenticate, enforce_access
from annotary_annotation_api.entrypoints.errors import (
    ERROR_RESPONSES,
    FILE_RESPONSES,
    ApiError,
    BodyLimit,
    describe_errors,
    install_error_handlers,
    parse_json,
)
from annotary_annotation_api.entrypoints.lookups import Leased, LeasedTasks, parse_id, project_row, require_project
from annotary_annotation_api.entrypoints.manage import router as manage_router
from annotary_annotation_api.entrypoints.review import router as review_router
from annotary_annotation_api.entrypoints.views import annotator_view, export_view, history_view, review_view, task_view
from annotary_annotation_api.entrypoints.workspace import router as workspace_router
from annotary_annotation_api.service_layer import projects, users
from annotary_annotation_api.service_layer.users import User
from annotary_common.storage import ObjectNotFound, ObjectStore
from annotary_common.telemetry import HttpTelemetry

EXPORT_FORMATS = datasets.EXPORT_FORMATS
_ITEMS = TypeAdapter(list[ItemIn])


@dataclass
class Deps:
    pool: asyncpg.Pool
    clients: Clients
    store: ObjectStore
    static_dir: Path
    signing_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))  # HMAC key of signed links
    known_projects: set[str] = field(default_factory=set)  # ids of projects seen to exist (never deleted)
    leased: LeasedTasks = field(default_factory=LeasedTasks)  # tasks this gateway leased lately (a submit's hint)


async def current_user(request: Request) -> User:
    """The user behind the bearer token; 401 when there is none or it is not active (entrypoints/access.py)."""
    return await authenticate(request)


CurrentUser = Annotated[User, Depends(current_user)]


def create_app(deps: Deps, max_body_bytes: int) -> Any:
    app = FastAPI(
        title="Annotary", version="1.0", openapi_url="/api/v1/openapi.json", docs_url="/api/v1/docs", redoc_url=None,
        # FastAPI's own OpenTelemetry (on whenever a tracer provider is set) is off: HttpTelemetry below makes the
        # request's server span and the latency histogram; FastAPI's would add a second server span per request and
        # spans for each dependency, the endpoint and the serialisation, on every call.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    install_error_handlers(app)
    app.add_middleware(HttpTelemetry, service="annotation-api")  # request spans and the HTTP latency histogram
    app.state.deps = deps
    # the access table, for every route; every error answer is {"detail": ...}, declared for every operation
    api = APIRouter(prefix="/api/v1", dependencies=[Depends(enforce_access)], responses=ERROR_RESPONSES)

    async def load_project(project_id: str) -> asyncpg.Record:
        return await project_row(deps, project_id)

    async def load_task(task_id: str, user: User) -> orchestrator_pb2.Task:
        parse_id(task_id, "task")
        with security.task_not_found(task_id, user):
            reply = await deps.clients.orchestrator.GetTask(
                orchestrator_pb2.GetTaskRequest(task_id=task_id), timeout=deps.clients.timeout_s
            )
        # An annotator only ever sees the tasks leased to them (else the same 404 as for no such task);
        # reviewers and managers see all.
        if reply.task.annotator_id != str(user.id) and not at_least(user.role, Role.REVIEWER):
            raise security.no_such_task(task_id)
        return reply.task

    # -- users ---------------------------------------------------------------------------------
    @api.get("/me")
    async def me(user: CurrentUser) -> dict[str, Any]:
        return {"id": str(user.id), "username": user.username, "role": user.role.value}

    @api.post("/users", status_code=201)
    async def create_user(body: UserIn, user: CurrentUser) -> dict[str, Any]:
        async with deps.pool.acquire() as conn:
            try:
                created, token = await users.create_user(conn, body.username, body.role, actor=user)
            except users.UsernameTaken as exc:
                raise ApiError(409, f"username {body.username!r} is taken") from exc
        return {"id": str(created.id), "username": created.username, "role": created.role.value, "token": token}

    # -- projects ------------------------------------------------------------------------------
    @api.post("/projects", status_code=201)
    async def create_project(body: ProjectIn, user: CurrentUser) -> dict[str, Any]:
        async with deps.pool.acquire() as conn:
            try:
                return await projects.create_project(conn, deps.clients, body, user.id, user.username)
            except projects.ProjectNameTaken as exc:
                raise ApiError(409, f"a project named {body.name!r} exists already") from exc

    @api.get("/projects")
    async def list_projects(user: CurrentUser) -> list[dict[str, Any]]:
        async with deps.pool.acquire() as conn:
            return await projects.list_projects(conn)

    @api.get("/projects/{project_id}")
    async def get_project(project_id: str, user: CurrentUser) -> dict[str, Any]:
        return projects.project_view(await load_project(project_id))

    @api.post("/projects/{project_id}/items", status_code=201)
    async def import_items(
        project_id: str, request: Request, user: CurrentUser, format: str | None = None
    ) -> dict[str, Any]:
        await load_project(project_id)
        if format in datasets.FOREIGN_FORMATS:  # another tool's export: ingest parses it
            return await datasets.import_foreign_items(deps, project_id, format, request)
        if format not in (None, "json", "jsonl"):
            supported = ", ".join(("json", "jsonl", *datasets.FOREIGN_FORMATS))
            raise ApiError(422, f"format {format!r} is not supported (supported: {supported})")
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            inputs = await _uploaded_items(request)
        else:
            security.check_json_body_type(content_type)
            inputs = _json_items(await request.body(), jsonl=format == "jsonl")
        if not inputs:
            raise ApiError(422, "no items in the request")
        reply = await deps.clients.ingest.ImportItems(
            ingest_pb2.ImportItemsRequest(project_id=project_id, items=inputs),
            timeout=max(deps.clients.timeout_s, 120.0),
        )
        return import_reply(reply)

    @api.post("/projects/{project_id}/sources", status_code=201)
    async def import_source(project_id: str, body: SourceIn, user: CurrentUser) -> dict[str, Any]:
        """Import every item under ``s3://bucket/prefix`` or ``file:///folder`` (inside the allowed roots)."""
        await load_project(project_id)
        reply = await deps.clients.ingest.ImportSource(
            ingest_pb2.ImportSourceRequest(project_id=project_id, uri=body.uri),
            timeout=max(deps.clients.timeout_s, 600.0),
        )
        return import_reply(reply)

    async def lease(project_id: str, user: User, count: int) -> orchestrator_pb2.LeaseNextTaskResponse:
        await require_project(deps, project_id)
        reply = await deps.clients.orchestrator.LeaseNextTask(
            orchestrator_pb2.LeaseNextTaskRequest(project_id=project_id, annotator_id=str(user.id), count=count),
            timeout=deps.clients.timeout_s,
        )
        for task in reply.tasks:
            deps.leased.put(task.task_id, task.annotator_id, task.project_id, task.item)
        if not reply.found and reply.reason.startswith(("paused", "qualification failed")):
            raise ApiError(403, f"you cannot receive tasks in this project: {reply.reason}", reason=reply.reason)
        return reply

    @api.post("/projects/{project_id}/tasks/next", response_model=None, responses={204: {"description": "none left"}})
    async def next_task(project_id: str, user: CurrentUser) -> dict[str, Any] | Response:
        """The annotator's next task (the one they hold, if any); 204 when nothing is left for them,
        with the reason in the X-Annotary-Reason header; 403 when they are paused."""
        reply = await lease(project_id, user, 1)
        if not reply.found:
            return Response(status_code=204, headers={"x-annotary-reason": reply.reason or "empty"})
        return task_view(reply.task)

    @api.post("/projects/{project_id}/tasks/lease")
    async def lease_tasks(project_id: str, body: LeaseIn, user: CurrentUser) -> dict[str, Any]:
        """Up to `count` tasks at once (held ones first) so a client can pre-load the next items."""
        reply = await lease(project_id, user, body.count)
        return {"tasks": [task_view(t) for t in reply.tasks], "reason": None if reply.found else reply.reason}

    @api.post("/projects/{project_id}/priority")
    async def set_priority(project_id: str, body: PriorityIn, user: CurrentUser) -> dict[str, Any]:
        await load_project(project_id)
        reply = await deps.clients.orchestrator.SetItemPriority(
            orchestrator_pb2.SetItemPriorityRequest(
                project_id=project_id, item_ids=[str(i) for i in body.item_ids], priority=body.priority
            ),
            timeout=deps.clients.timeout_s,
        )
        return {"updated": reply.updated}

    @api.patch("/projects/{project_id}")
    async def update_project(project_id: str, body: ProjectPatch, user: CurrentUser) -> dict[str, Any]:
        async with deps.pool.acquire() as conn:
            try:
                return await projects.update_project(
                    conn, deps.clients, parse_id(project_id, "project"), body, actor=user
                )
            except projects.ProjectNotFound as exc:
                raise ApiError(404, f"project {project_id} not found") from exc

    @api.get("/projects/{project_id}/stats")
    async def stats(project_id: str, user: CurrentUser) -> dict[str, Any]:
        await load_project(project_id)
        reply = await deps.clients.orchestrator.GetProjectStats(
            orchestrator_pb2.GetProjectStatsRequest(project_id=project_id), timeout=deps.clients.timeout_s
        )
        quality = await deps.clients.qa.GetProjectQuality(
            qa_pb2.GetProjectQualityRequest(project_id=project_id), timeout=deps.clients.timeout_s
        )
        return {
            "states": dict(reply.item_states),
            "tasks": dict(reply.task_states),
            "gold_items": reply.gold_items,
            "throughput": {"submissions_last_hour": reply.submissions_last_hour},
            "agreement": {k: v for k, v in quality.agreement.items() if math.isfinite(v)},
            "quality": {
                "items_decided": quality.items_decided,
                "items_accepted": quality.items_accepted,
                "items_in_review": quality.items_in_review,
            },
        }

    @api.get("/projects/{project_id}/annotators")
    async def annotator_metrics(project_id: str, user: CurrentUser) -> list[dict[str, Any]]:
        """Quality and speed per annotator: managers and reviewers see everyone, annotators themselves."""
        await load_project(project_id)
        only = "" if at_least(user.role, Role.REVIEWER) else str(user.id)
        reply = await deps.clients.qa.GetAnnotatorMetrics(
            qa_pb2.GetAnnotatorMetricsRequest(project_id=project_id, annotator_id=only), timeout=deps.clients.timeout_s
        )
        async with deps.pool.acquire() as conn:
            names = await users.usernames(conn, [m.annotator_id for m in reply.annotators])
        return [annotator_view(m, names.get(m.annotator_id)) for m in reply.annotators]

    @api.post("/projects/{project_id}/annotators/{annotator_id}/reinstate")
    async def reinstate(project_id: str, annotator_id: str, user: CurrentUser) -> dict[str, Any]:
        await load_project(project_id)
        await deps.clients.qa.ReinstateAnnotator(
            qa_pb2.ReinstateAnnotatorRequest(
                project_id=project_id, annotator_id=str(parse_id(annotator_id, "annotator")), actor=str(user.id)
            ),
            timeout=deps.clients.timeout_s,
        )
        return {"annotator_id": annotator_id, "reinstated": True}

    @api.get("/items/{item_id}/history")
    async def item_history(item_id: str, user: CurrentUser) -> list[dict[str, Any]]:
        """The item's audit trail: every transition with who, when, from, to and why."""
        reply = await deps.clients.orchestrator.GetItemHistory(
            orchestrator_pb2.GetItemHistoryRequest(item_id=str(parse_id(item_id, "item"))),
            timeout=deps.clients.timeout_s,
        )
        return [history_view(e) for e in reply.entries]

    # -- review --------------------------------------------------------------------------------
    @api.get("/projects/{project_id}/reviews")
    async def list_reviews(project_id: str, user: CurrentUser, limit: int = 50) -> list[dict[str, Any]]:
        await load_project(project_id)
        reply = await deps.clients.qa.ListReviews(
            qa_pb2.ListReviewsRequest(project_id=project_id, limit=max(1, min(limit, 500))),
            timeout=deps.clients.timeout_s,
        )
        return [review_view(r) for r in reply.reviews]

    @api.post("/projects/{project_id}/reviews/{item_id}")
    async def review(project_id: str, item_id: str, body: ReviewIn, user: CurrentUser) -> dict[str, Any]:
        """Accept (optionally with a result), correct (with a result) or reject (with feedback) an item in review."""
        await load_project(project_id)
        reply = await deps.clients.qa.SubmitReview(
            qa_pb2.SubmitReviewRequest(
                project_id=project_id,
                item_id=str(parse_id(item_id, "item")),
                round=body.round,
                decision=body.decision,
                result_json=json.dumps(body.result) if body.result is not None else "",
                feedback=body.feedback,
                reviewer_id=str(user.id),
            ),
            timeout=deps.clients.timeout_s,
        )
        return {"item_id": item_id, "outcome": reply.outcome}

    # -- tasks ---------------------------------------------------------------------------------
    @api.get("/tasks/{task_id}")
    async def get_task(task_id: str, user: CurrentUser) -> dict[str, Any]:
        return task_view(await load_task(task_id, user))

    @api.get("/tasks/{task_id}/media", response_model=None, responses=FILE_RESPONSES)
    async def task_media(task_id: str, user: CurrentUser) -> Response:
        item = (await load_task(task_id, user)).item
        if not item.media_uri:
            raise ApiError(404, f"task {task_id} has no media (a {item.modality} item)")
        if item.media_uri.startswith("https://"):
            return RedirectResponse(item.media_uri)
        try:
            data = await deps.store.read_uri(item.media_uri)
        except ObjectNotFound as exc:
            raise ApiError(404, f"media of task {task_id} is missing from object storage") from exc
        return Response(
            data,
            media_type=item.media_type or "application/octet-stream",
            headers={"cache-control": "private, max-age=3600"},
        )

    @api.post("/tasks/{task_id}/submit")
    async def submit(task_id: str, body: SubmitIn, user: CurrentUser) -> dict[str, Any]:
        parse_id(task_id, "task")

        async def current() -> Leased:
            with security.task_not_found(task_id, user):
                task = (
                    await deps.clients.orchestrator.GetTask(
                        orchestrator_pb2.GetTaskRequest(task_id=task_id), timeout=deps.clients.timeout_s
                    )
                ).task
            return Leased(task.annotator_id, task.project_id, task.item)

        async def validate(leased: Leased) -> qa_pb2.ValidateAnnotationResponse | None:
            # Validate only the holder's work; anyone else goes straight to the orchestrator, which refuses
            # with 403 (never held it) or 409 (lease lost) and changes nothing.
            if leased.annotator_id != str(user.id):
                return None
            return await deps.clients.qa.ValidateAnnotation(
                qa_pb2.ValidateAnnotationRequest(project_id=leased.project_id, item=leased.item,
                                                 result_json=result_json),
                timeout=deps.clients.timeout_s,
            )

        result_json = json.dumps(body.result)
        # The task as this gateway leased it to the user, else as the orchestrator has it now.
        hint = deps.leased.held_by(task_id, str(user.id))
        check = await validate(hint or await current())
        if hint is not None and check is not None and not check.valid:
            # Refused work on a task leased here: the user may have lost the lease since (expired, paused), which
            # answers 409 as it always did; so the answer comes from the task as it is now.
            check = await validate(await current())
        if check is not None and not check.valid:
            violations = [
                {"rule": v.rule, "message": v.message, "region_index": v.region_index} for v in check.violations
            ]
            raise ApiError(422, "; ".join(f"{v['rule']}: {v['message']}" for v in violations), violations=violations)
        with security.task_not_found(task_id, user):
            reply = await deps.clients.orchestrator.SubmitTask(
                orchestrator_pb2.SubmitTaskRequest(
                    task_id=task_id, annotator_id=str(user.id), result_json=result_json,
                    lead_time_ms=body.lead_time_ms or 0,
                ),
                timeout=deps.clients.timeout_s,
            )
        deps.leased.forget(task_id)
        return task_view(reply.task)

    @api.post("/tasks/{task_id}/skip")
    async def skip(task_id: str, user: CurrentUser, body: SkipIn | None = None) -> dict[str, Any]:
        with security.task_not_found(task_id, user):
            await deps.clients.orchestrator.SkipTask(
                orchestrator_pb2.SkipTaskRequest(
                    task_id=str(parse_id(task_id, "task")), annotator_id=str(user.id),
                    reason=body.reason if body else "",
                ),
                timeout=deps.clients.timeout_s,
            )
        deps.leased.forget(task_id)
        return {"id": task_id, "skipped": True}

    @api.post("/tasks/{task_id}/heartbeat")
    async def heartbeat(task_id: str, user: CurrentUser) -> dict[str, Any]:
        with security.task_not_found(task_id, user):
            reply = await deps.clients.orchestrator.Heartbeat(
                orchestrator_pb2.HeartbeatRequest(task_id=str(parse_id(task_id, "task")), annotator_id=str(user.id)),
                timeout=deps.clients.timeout_s,
            )
        return {"lease_expires_at": reply.lease_expires_at.ToDatetime().isoformat() + "Z"}

    # -- exports -------------------------------------------------------------------------------
    @api.post("/projects/{project_id}/exports", status_code=202)
    async def create_export(project_id: str, body: ExportIn, user: CurrentUser) -> dict[str, Any]:
        if body.format not in EXPORT_FORMATS:
            raise ApiError(422, f"format: {body.format!r} is not supported (supported: {', '.join(EXPORT_FORMATS)})")
        project = await load_project(project_id)
        reply = await deps.clients.export.CreateExport(
            export_pb2.CreateExportRequest(
                project_id=project_id, format=body.format, schema_json=project["schema"], project_name=project["name"]
            ),
            timeout=deps.clients.timeout_s,
        )
        await security.record_export(deps, user, reply)
        return export_view(reply)

    @api.get("/exports/{export_id}")
    async def get_export(export_id: str, user: CurrentUser) -> dict[str, Any]:
        parse_id(export_id, "export")
        return export_view(
            await deps.clients.export.GetExport(
                export_pb2.GetExportRequest(export_id=export_id), timeout=deps.clients.timeout_s
            )
        )

    @api.get("/exports/{export_id}/download", response_model=None, responses=FILE_RESPONSES)
    async def download_export(export_id: str, user: CurrentUser) -> Response:
        parse_id(export_id, "export")
        export = await deps.clients.export.GetExport(
            export_pb2.GetExportRequest(export_id=export_id), timeout=deps.clients.timeout_s
        )
        if export.status != "done":
            raise ApiError(409, f"export {export_id} is {export.status}, not done")
        media_type = mimetypes.guess_type(export.file_name)[0] or "application/octet-stream"
        # Streamed from object storage: a large dataset never sits in the gateway's memory. The first chunk is
        # read before the response starts, so a missing object is a clean 404, not a cut-off download.
        chunks = deps.store.stream(export.object_key)
        try:
            first = await anext(chunks)
        except ObjectNotFound as exc:
            raise ApiError(404, f"the file of export {export_id} is missing from object storage") from exc
        except StopAsyncIteration:
            first = b""

        async def body() -> AsyncIterator[bytes]:
            yield first
            async for chunk in chunks:
                yield chunk

        return StreamingResponse(
            body(),
            media_type=media_type,
            headers={"content-disposition": f'attachment; filename="{export.file_name}"'},
        )

    api.include_router(workspace_router)
    api.include_router(datasets.router)
    api.include_router(models.router)
    api.include_router(security.router)
    api.include_router(dashboards.router)
    api.include_router(review_router)
    api.include_router(manage_router)
    app.include_router(api)

    # -- health and the web UI -----------------------------------------------------------------
    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        checks = await deps.clients.health()
        try:
            async with deps.pool.acquire(timeout=2.0) as conn:
                await conn.fetchval("SELECT 1")
            checks["postgres"] = "ok"
        except Exception as exc:  # reported, not raised
            checks["postgres"] = f"failed: {exc!r}"
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503)

    app.add_api_route("/readyz", healthz, include_in_schema=False)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/{path:path}", include_in_schema=False, response_model=None)
    async def web_ui(path: str) -> Response:
        if path.startswith("api/"):
            raise ApiError(404, f"no such endpoint /{path}")
        root = deps.static_dir.resolve()
        index = root / "index.html"
        if not index.is_file():
            return JSONResponse(
                {"detail": f"the web UI is not built ({index} missing): run `make web`"}, status_code=503
            )
        candidate = (root / path).resolve()
        if path and candidate.is_file() and candidate.is_relative_to(root):
            return FileResponse(candidate)
        return FileResponse(index, headers={"cache-control": "no-cache"})

    return BodyLimit(app, max_body_bytes)


def import_reply(reply: ingest_pb2.ImportItemsResponse) -> dict[str, Any]:
    """The import's counts, or 422 naming every bad item (ingest then changed nothing)."""
    errors = [{"index": e.index, "message": e.message} for e in reply.errors]
    if errors:
        raise ApiError(422, "; ".join(f"items[{e['index']}]: {e['message']}" for e in errors), errors=errors)
    return {"created": reply.created, "duplicates": reply.duplicates, "item_ids": list(reply.item_ids), "errors": []}


def _json_items(raw: bytes, *, jsonl: bool) -> list[ingest_pb2.ItemInput]:
    if jsonl:
        data: Any = [parse_json(line) for line in raw.splitlines() if line.strip()]
    else:
        data = parse_json(raw)
        if isinstance(data, dict):
            data = [data]
    if not isinstance(data, list):
        raise ApiError(422, "the body must be a JSON list of item objects")
    try:
        items = _ITEMS.validate_python(data)
    except ValidationError as exc:
        raise ApiError(422, describe_errors(list(exc.errors()), prefix="items")) from exc
    return [_item_input(item) for item in items]


def _item_input(item: ItemIn) -> ingest_pb2.ItemInput:
    media = item.image or item.audio or item.video
    return ingest_pb2.ItemInput(
        external_id=item.external_id or "",
        text=item.text or "",
        media_uri=media or "",
        meta_json=json.dumps(item.meta),
        predictions_json=json.dumps([p.model_dump(mode="json") for p in item.predictions]) if item.predictions else "",
        gold_json=json.dumps(item.gold) if item.gold is not None else "",
        modality=item.modality,
    )


async def _uploaded_items(request: Request) -> list[ingest_pb2.ItemInput]:
    form = await request.form()
    files = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
    if not files:
        raise ApiError(422, "files: no file in the multipart field 'files'")
    inputs = []
    for upload in files:
        security.check_upload_type(upload.filename, upload.content_type)
    for upload in files:
        data = await upload.read()
        if not data:
            raise ApiError(422, f"files: {upload.filename!r} is empty")
        inputs.append(
            ingest_pb2.ItemInput(external_id=upload.filename or "", filename=upload.filename or "", data=data)
        )
    return inputs
