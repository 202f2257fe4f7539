"""Dataset routes (docs/rest-api.md "Datasets"): dataset versions (every export is an immutable snapshot with a
manifest; incremental versions), export progress, webhooks and their delivery log, incremental source syncs, and
the import of other tools' exports (``POST /projects/{id}/items?format=labelstudio|coco|yolo|conll``, which
http.py hands to :func:`import_foreign_items`). Export and ingest own the data; these routes call them over gRPC.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile

from annotary.export.v1 import export_pb2
from annotary.ingest.v1 import ingest_pb2
from annotary_annotation_api.entrypoints.errors import ApiError
from annotary_annotation_api.entrypoints.lookups import parse_id, project_row, proto_time
from annotary_annotation_api.entrypoints.security import record_export, record_webhook
from annotary_annotation_api.service_layer.users import User

if TYPE_CHECKING:
    from annotary_annotation_api.entrypoints.http import Deps

EXPORT_FORMATS = ("jsonl", "coco", "voc", "yolo", "spacy", "hf", "conll", "csv", "labelstudio")
FOREIGN_FORMATS = ("labelstudio", "coco", "yolo", "conll")
WEBHOOK_EVENTS = ("annotation.accepted", "export.completed", "export.failed", "annotation.rejected",
                  "review.required", "model.trained", "annotator.paused")
_BODY_NAMES = {"labelstudio": "export.json", "coco": "annotations.json", "yolo": "dataset.zip", "conll": "data.conll"}


async def _user(request: Request) -> User:
    # http.py includes this router, so its auth dependency is imported when a request arrives, not at import.
    from annotary_annotation_api.entrypoints.http import current_user

    return await current_user(request)


DatasetUser = Annotated[User, Depends(_user)]
router = APIRouter(tags=["datasets"])


class VersionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: str
    since: str | None = Field(default=None, description="export id of an earlier version: only what changed since")


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: Annotated[str, Field(min_length=1, pattern=r"^https?://")]
    events: list[str] = Field(default_factory=lambda: ["annotation.accepted"])
    secret: Annotated[str, Field(max_length=256)] = ""


class SyncIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    uri: Annotated[str, Field(min_length=1, pattern=r"^(s3://[^/]+|file:///).*")]


class ScheduleIn(SyncIn):
    interval_s: Annotated[int, Field(ge=1, le=30 * 24 * 3600, description="seconds between syncs")]


def _deps(request: Request) -> Deps:
    deps: Deps = request.app.state.deps
    return deps


def version_view(e: export_pb2.Export) -> dict[str, Any]:
    done = e.status == "done"
    return {
        "id": e.export_id, "project_id": e.project_id, "version": e.version, "format": e.format, "status": e.status,
        "incremental": bool(e.base_export_id), "since": e.base_export_id or None, "parent": e.parent_export_id or None,
        "item_count": e.item_count, "annotation_count": e.annotation_count, "byte_size": e.byte_size,
        "progress": {"items_done": e.items_done, "items_total": e.items_total,
                     "fraction": (e.items_done / e.items_total) if e.items_total else (1.0 if done else 0.0)},
        "error": e.error or None, "file_name": e.file_name or None, "created_at": proto_time(e, "created_at"),
        "finished_at": proto_time(e, "finished_at"),
        "download_url": f"/api/v1/exports/{e.export_id}/download" if done else None,
        "manifest_url": f"/api/v1/exports/{e.export_id}/manifest" if done and e.manifest_key else None,
    }


def webhook_view(w: export_pb2.Webhook) -> dict[str, Any]:
    view: dict[str, Any] = {"id": w.webhook_id, "project_id": w.project_id, "url": w.url,
                            "events": list(w.event_types), "created_at": proto_time(w, "created_at")}
    if w.secret:
        view["secret"] = w.secret  # shown once, at creation
    return view


def import_view(reply: ingest_pb2.ImportItemsResponse) -> dict[str, Any]:
    errors = [{"index": e.index, "message": e.message} for e in reply.errors]
    if errors:
        raise ApiError(422, "; ".join(f"items[{e['index']}]: {e['message']}" for e in errors), errors=errors)
    return {"created": reply.created, "duplicates": reply.duplicates, "item_ids": list(reply.item_ids),
            "annotations": reply.annotations, "predictions": reply.predictions, "unchanged": reply.unchanged,
            "keys_synced": reply.keys_synced, "errors": []}


async def import_foreign_items(deps: Deps, project_id: str, fmt: str, request: Request) -> dict[str, Any]:
    """Another tool's export as the body or as multipart ``files`` (images, label files, zips) -> ingest."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        uploads = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
        if not uploads:
            raise ApiError(422, "files: no file in the multipart field 'files'")
        files = [ingest_pb2.ForeignFile(filename=u.filename or f"file{k}", data=await u.read())
                 for k, u in enumerate(uploads)]
    else:
        body = await request.body()
        if not body:
            raise ApiError(422, f"the body is empty: send the {fmt} export as the body or as multipart 'files'")
        files = [ingest_pb2.ForeignFile(filename=_BODY_NAMES[fmt], data=body)]
    reply = await deps.clients.ingest.ImportForeign(
        ingest_pb2.ImportForeignRequest(project_id=project_id, format=fmt, files=files),
        timeout=max(deps.clients.timeout_s, 300.0),
    )
    return import_view(reply)


# -- dataset versions ------------------------------------------------------------------------------
@router.get("/projects/{project_id}/versions")
async def list_versions(project_id: str, request: Request, user: DatasetUser) -> list[dict[str, Any]]:
    deps = _deps(request)
    await project_row(deps, project_id)
    reply = await deps.clients.export.ListVersions(export_pb2.ListVersionsRequest(project_id=project_id),
                                                   timeout=deps.clients.timeout_s)
    return [version_view(e) for e in reply.exports]


@router.post("/projects/{project_id}/versions", status_code=202)
async def create_version(project_id: str, body: VersionIn, request: Request, user: DatasetUser) -> dict[str, Any]:
    """A new dataset version: a full snapshot, or with ``since`` only what changed since that version."""
    if body.format not in EXPORT_FORMATS:
        raise ApiError(422, f"format: {body.format!r} is not supported (supported: {', '.join(EXPORT_FORMATS)})")
    deps = _deps(request)
    project = await project_row(deps, project_id)
    if body.since:
        parse_id(body.since, "export")
    reply = await deps.clients.export.CreateExport(
        export_pb2.CreateExportRequest(project_id=project_id, format=body.format, schema_json=project["schema"],
                                       project_name=project["name"], since_export_id=body.since or ""),
        timeout=deps.clients.timeout_s,
    )
    await record_export(deps, user, reply)
    return version_view(reply)


async def _export(deps: Deps, export_id: str) -> export_pb2.Export:
    parse_id(export_id, "export")
    result: export_pb2.Export = await deps.clients.export.GetExport(
        export_pb2.GetExportRequest(export_id=export_id), timeout=deps.clients.timeout_s)
    return result


@router.get("/exports/{export_id}/progress")
async def export_progress(export_id: str, request: Request, user: DatasetUser) -> dict[str, Any]:
    return version_view(await _export(_deps(request), export_id))


@router.get("/exports/{export_id}/manifest", response_model=None)
async def export_manifest(export_id: str, request: Request, user: DatasetUser) -> Response:
    deps = _deps(request)
    export = await _export(deps, export_id)
    if export.status != "done" or not export.manifest_key:
        raise ApiError(409, f"export {export_id} is {export.status}, it has no manifest yet")
    return Response(await deps.store.get(export.manifest_key), media_type="application/json")


# -- webhooks --------------------------------------------------------------------------------------
@router.post("/projects/{project_id}/webhooks", status_code=201)
async def create_webhook(project_id: str, body: WebhookIn, request: Request, user: DatasetUser) -> dict[str, Any]:
    unknown = [e for e in body.events if e not in WEBHOOK_EVENTS]
    if unknown or not body.events:
        raise ApiError(422, f"events: {unknown[0] if unknown else '[]'!r} is not supported "
                            f"(supported: {', '.join(WEBHOOK_EVENTS)})")
    deps = _deps(request)
    await project_row(deps, project_id)
    reply = await deps.clients.export.CreateWebhook(
        export_pb2.CreateWebhookRequest(project_id=project_id, url=body.url, event_types=body.events,
                                        secret=body.secret), timeout=deps.clients.timeout_s)
    await record_webhook(deps, user, "create", reply.webhook_id,
                         {"project_id": project_id, "url": body.url, "events": body.events})
    return webhook_view(reply)


@router.get("/projects/{project_id}/webhooks")
async def list_webhooks(project_id: str, request: Request, user: DatasetUser) -> list[dict[str, Any]]:
    deps = _deps(request)
    await project_row(deps, project_id)
    reply = await deps.clients.export.ListWebhooks(export_pb2.ListWebhooksRequest(project_id=project_id),
                                                   timeout=deps.clients.timeout_s)
    return [webhook_view(w) for w in reply.webhooks]


@router.delete("/projects/{project_id}/webhooks/{webhook_id}", status_code=204, response_model=None)
async def delete_webhook(project_id: str, webhook_id: str, request: Request, user: DatasetUser) -> Response:
    deps = _deps(request)
    await project_row(deps, project_id)
    parse_id(webhook_id, "webhook")
    await deps.clients.export.DeleteWebhook(export_pb2.DeleteWebhookRequest(webhook_id=webhook_id),
                                            timeout=deps.clients.timeout_s)
    await record_webhook(deps, user, "delete", webhook_id, {"project_id": project_id, "deleted": True})
    return Response(status_code=204)


@router.get("/webhooks/{webhook_id}/deliveries")
async def list_deliveries(webhook_id: str, request: Request, user: DatasetUser,
                          limit: int = 100) -> list[dict[str, Any]]:
    deps = _deps(request)
    parse_id(webhook_id, "webhook")
    reply = await deps.clients.export.ListDeliveries(
        export_pb2.ListDeliveriesRequest(webhook_id=webhook_id, limit=max(1, min(limit, 1000))),
        timeout=deps.clients.timeout_s)
    return [{"id": d.delivery_id, "event_id": d.event_id, "event": d.event_type, "status": d.status,
             "attempts": d.attempts, "last_status_code": d.last_status_code or None, "last_error": d.last_error or None,
             "created_at": d.created_at, "delivered_at": d.delivered_at or None,
             "log": json.loads(d.log_json or "[]")} for d in reply.deliveries]


# -- incremental source sync -----------------------------------------------------------------------
@router.post("/projects/{project_id}/sources/sync")
async def sync_source(project_id: str, body: SyncIn, request: Request, user: DatasetUser) -> dict[str, Any]:
    """Import only the keys of ``s3://bucket/prefix`` or ``file:///folder`` that are new or changed since the last
    sync of that source (S3 ETag and size; a file's mtime and size)."""
    deps = _deps(request)
    await project_row(deps, project_id)
    reply = await deps.clients.ingest.SyncSource(
        ingest_pb2.ImportSourceRequest(project_id=project_id, uri=body.uri), timeout=max(deps.clients.timeout_s, 600.0))
    return import_view(reply)


def schedule_view(s: ingest_pb2.SyncSchedule) -> dict[str, Any]:
    return {"uri": s.uri, "interval_s": s.interval_s, "next_run_at": s.next_run_at,
            "last_run_at": s.last_run_at or None, "last_status": s.last_status or None,
            "last_error": s.last_error or None, "last_keys_synced": s.last_keys_synced,
            "last_created": s.last_created, "runs": s.runs}


@router.put("/projects/{project_id}/sources/sync/schedule")
async def set_sync_schedule(project_id: str, body: ScheduleIn, request: Request, user: DatasetUser) -> dict[str, Any]:
    """Sync a source every ``interval_s`` seconds (the first run at once); setting it again changes the interval."""
    deps = _deps(request)
    await project_row(deps, project_id)
    reply = await deps.clients.ingest.SetSyncSchedule(
        ingest_pb2.SetSyncScheduleRequest(project_id=project_id, uri=body.uri, interval_s=body.interval_s),
        timeout=max(deps.clients.timeout_s, 60.0))
    return schedule_view(reply)


@router.get("/projects/{project_id}/sources/sync/schedule")
async def list_sync_schedules(project_id: str, request: Request, user: DatasetUser) -> list[dict[str, Any]]:
    deps = _deps(request)
    await project_row(deps, project_id)
    reply = await deps.clients.ingest.ListSyncSchedules(
        ingest_pb2.ListSyncSchedulesRequest(project_id=project_id), timeout=deps.clients.timeout_s)
    return [schedule_view(s) for s in reply.schedules]


@router.delete("/projects/{project_id}/sources/sync/schedule")
async def clear_sync_schedule(project_id: str, uri: str, request: Request, user: DatasetUser) -> dict[str, Any]:
    """Stop syncing ``?uri=`` on a schedule (what it imported stays); 404 when it has no schedule."""
    deps = _deps(request)
    await project_row(deps, project_id)
    reply = await deps.clients.ingest.ClearSyncSchedule(
        ingest_pb2.ImportSourceRequest(project_id=project_id, uri=uri), timeout=deps.clients.timeout_s)
    return schedule_view(reply)
