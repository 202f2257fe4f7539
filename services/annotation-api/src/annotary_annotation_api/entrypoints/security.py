"""Security routes: API tokens (list, make, revoke), users, the audit log and an annotation's history, and
expiring links to media and exports (S3: presigned by the S3 server's SigV4; the local store: HMAC-signed links
served by ``GET /api/v1/signed/{token}``).

Also the one answer for tasks that are not the caller's: :func:`task_not_found` turns every "not yours" the
orchestrator can tell an annotator into the same 404 as for a task that does not exist, so ids cannot be probed.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import mimetypes
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import grpc
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from annotary.export.v1 import export_pb2
from annotary.orchestrator.v1 import orchestrator_pb2
from annotary_annotation_api.domain.roles import Role, at_least
from annotary_annotation_api.entrypoints.access import authenticate
from annotary_annotation_api.entrypoints.errors import FILE_RESPONSES, ApiError
from annotary_annotation_api.entrypoints.lookups import parse_id
from annotary_annotation_api.service_layer import audit, users
from annotary_annotation_api.service_layer.users import User
from annotary_common.storage import ObjectNotFound, S3ObjectStore

if TYPE_CHECKING:
    from annotary_annotation_api.entrypoints.http import Deps

LINK_DEFAULT_S = 900
LINK_MAX_S = 7 * 24 * 3600  # S3's own limit for SigV4 presigned URLs

router = APIRouter(tags=["security"])
SecurityUser = Annotated[User, Depends(authenticate)]


def _deps(request: Request) -> Deps:
    deps: Deps = request.app.state.deps
    return deps


# -- one 404 for "not yours" and "does not exist" ------------------------------------------------------------
def no_such_task(task_id: str) -> ApiError:
    return ApiError(404, f"task {task_id} not found")


@contextlib.contextmanager
def task_not_found(task_id: str, user: User) -> Iterator[None]:
    """Around an orchestrator call about ``task_id``: NOT_FOUND becomes :func:`no_such_task`, and so does, for an
    annotator, "you never held this task" (PERMISSION_DENIED, or FAILED_PRECONDITION "does not hold"), which
    would otherwise tell them that the id exists."""
    try:
        yield
    except grpc.aio.AioRpcError as exc:
        code, details = exc.code(), exc.details() or ""
        if code == grpc.StatusCode.NOT_FOUND:
            raise no_such_task(task_id) from None
        if not at_least(user.role, Role.REVIEWER) and (
            code == grpc.StatusCode.PERMISSION_DENIED
            or (code == grpc.StatusCode.FAILED_PRECONDITION and "does not hold" in details)
        ):
            raise no_such_task(task_id) from None
        raise


# -- tokens and users --------------------------------------------------------------------------------------
class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=100)]
    expires_in_days: Annotated[int | None, Field(ge=1, le=3650)] = None
    expires_at: datetime | None = None

    @field_validator("expires_at")
    @classmethod
    def _future(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("give a time zone (e.g. 2030-01-01T00:00:00Z)")
        if value <= datetime.now(UTC):
            raise ValueError("must be in the future")
        return value

    def expiry(self) -> datetime | None:
        if self.expires_in_days is not None and self.expires_at is not None:
            raise ApiError(422, "expires_at: give expires_at or expires_in_days, not both")
        if self.expires_in_days is not None:
            return datetime.now(UTC) + timedelta(days=self.expires_in_days)
        return self.expires_at


@router.get("/me/tokens")
async def my_tokens(request: Request, user: SecurityUser) -> list[dict[str, Any]]:
    """The caller's tokens, without their secrets."""
    async with _deps(request).pool.acquire() as conn:
        return await users.list_tokens(conn, user.id)


@router.post("/me/tokens", status_code=201)
async def make_my_token(body: TokenIn, request: Request, user: SecurityUser) -> dict[str, Any]:
    """A new token for the caller; ``token`` is in this answer only (only its SHA-256 is kept)."""
    async with _deps(request).pool.acquire() as conn:
        view, token = await users.create_token(conn, user.id, body.name, body.expiry(), user)
    return {**view, "token": token}


@router.get("/users")
async def list_users(request: Request, user: SecurityUser) -> list[dict[str, Any]]:
    async with _deps(request).pool.acquire() as conn:
        return await users.list_users(conn)


@router.get("/users/{user_id}/tokens")
async def user_tokens(user_id: str, request: Request, user: SecurityUser) -> list[dict[str, Any]]:
    uid = parse_id(user_id, "user")
    async with _deps(request).pool.acquire() as conn:
        if await users.get_user(conn, uid) is None:
            raise ApiError(404, f"user {user_id} not found")
        return await users.list_tokens(conn, uid)


@router.post("/users/{user_id}/tokens", status_code=201)
async def make_user_token(user_id: str, body: TokenIn, request: Request, user: SecurityUser) -> dict[str, Any]:
    uid = parse_id(user_id, "user")
    async with _deps(request).pool.acquire() as conn:
        try:
            view, token = await users.create_token(conn, uid, body.name, body.expiry(), user)
        except users.NotFound as exc:
            raise ApiError(404, f"user {user_id} not found") from exc
    return {**view, "token": token}


@router.delete("/tokens/{token_id}")
async def revoke_token(token_id: str, request: Request, user: SecurityUser) -> dict[str, Any]:
    """Revoke a token: the caller's own, or anyone's for an admin (others' answer 404, as unknown ids do)."""
    tid = parse_id(token_id, "token")
    async with _deps(request).pool.acquire() as conn:
        owner = await users.token_owner(conn, tid)
        if owner is None or (owner != user.id and user.role != Role.ADMIN):
            raise ApiError(404, f"token {token_id} not found")
        return await users.revoke_token(conn, tid, user)


# -- audit -------------------------------------------------------------------------------------------------
@router.get("/audit")
async def audit_log(
    request: Request,
    user: SecurityUser,
    entity: str | None = None,
    id: str | None = None,
    actor: str | None = None,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=audit.MAX_LIMIT)] = 100,
) -> list[dict[str, Any]]:
    """Audit entries, oldest first, filtered by ``entity`` (annotation, project, schema, policy, user, token,
    export, webhook), its ``id`` and the ``actor``'s user id; page on with ``after`` = the last entry's id."""
    if entity is not None and entity not in audit.ENTITIES:
        raise ApiError(422, f"entity: {entity!r} is not one of {', '.join(audit.ENTITIES)}")
    if (entity is None or entity in ("user", "token")) and user.role != Role.ADMIN:
        if entity is None:
            raise ApiError(403, "entity: give an entity; the whole log (users and tokens too) needs the admin role")
        raise ApiError(403, f"the audit of {entity}s needs the admin role; you are {user.role.value}")
    async with _deps(request).pool.acquire() as conn:
        return await audit.entries(conn, entity=entity, entity_id=id, actor_id=actor, after_id=after, limit=limit)


@router.get("/annotations/{annotation_id}/history")
async def annotation_history(annotation_id: str, request: Request, user: SecurityUser) -> dict[str, Any]:
    """Who changed this annotation, when, from what, to what. The annotation of an item is addressed by the item
    id or by the id of any of its tasks; each entry has the actor, the time, ``before`` and ``after``."""
    parse_id(annotation_id, "annotation")
    async with _deps(request).pool.acquire() as conn:
        changes = await audit.annotation_history(conn, annotation_id)
    if not changes:
        raise ApiError(404, f"annotation {annotation_id} not found (no recorded change for that item or task id)")
    return {"item_id": changes[0]["entity_id"], "changes": changes}


# -- expiring links ------------------------------------------------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_link(key: bytes, claims: dict[str, Any]) -> str:
    body = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    mac = hmac.new(key, body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def verify_link(key: bytes, token: str, now: float | None = None) -> dict[str, Any]:
    """The claims of a link this service signed; 403 for a forged, altered or expired one."""
    body, _, mac = token.partition(".")
    try:
        given = _unb64(mac)
    except ValueError:
        given = b""
    if not body or not hmac.compare_digest(hmac.new(key, body.encode(), hashlib.sha256).digest(), given):
        raise ApiError(403, "this link's signature is not valid (altered, or not made by this service)")
    claims: dict[str, Any] = json.loads(_unb64(body))
    if (now if now is not None else time.time()) >= claims["exp"]:
        raise ApiError(403, "this link has expired; ask the API for a new one")
    return claims


async def make_link(request: Request, uri: str, media_type: str, filename: str | None,
                    expires_in: int) -> dict[str, Any]:
    deps = _deps(request)
    expires_at = datetime.now(UTC) + timedelta(seconds=expires_in)
    if uri.startswith("s3://") and isinstance(deps.store, S3ObjectStore):
        url = await deps.store.presigned_url(uri, expires_in, filename)
        kind = "s3-presigned"
    else:
        claims = {"u": uri, "t": media_type, "n": filename or "", "exp": int(expires_at.timestamp())}
        url = str(request.base_url).rstrip("/") + f"/api/v1/signed/{sign_link(deps.signing_key, claims)}"
        kind = "signed"
    return {"url": url, "kind": kind, "expires_at": expires_at.isoformat().replace("+00:00", "Z"),
            "expires_in": expires_in}


ExpiresIn = Annotated[int, Query(ge=1, le=LINK_MAX_S, description="seconds the link works")]


@router.get("/tasks/{task_id}/media/link")
async def media_link(task_id: str, request: Request, user: SecurityUser,
                     expires_in: ExpiresIn = LINK_DEFAULT_S) -> dict[str, Any]:
    """A link to the task's media that works without a token until it expires (for <img>/<video> tags, CDNs)."""
    deps = _deps(request)
    parse_id(task_id, "task")
    with task_not_found(task_id, user):
        task = (await deps.clients.orchestrator.GetTask(
            orchestrator_pb2.GetTaskRequest(task_id=task_id), timeout=deps.clients.timeout_s)).task
    if task.annotator_id != str(user.id) and not at_least(user.role, Role.REVIEWER):
        raise no_such_task(task_id)
    item = task.item
    if not item.media_uri:
        raise ApiError(404, f"task {task_id} has no media (a {item.modality} item)")
    return await make_link(request, item.media_uri, item.media_type or "application/octet-stream", None, expires_in)


@router.get("/exports/{export_id}/link")
async def export_link(export_id: str, request: Request, user: SecurityUser,
                      expires_in: ExpiresIn = LINK_DEFAULT_S) -> dict[str, Any]:
    """A link to a finished export's file that works without a token until it expires."""
    deps = _deps(request)
    parse_id(export_id, "export")
    export = await deps.clients.export.GetExport(export_pb2.GetExportRequest(export_id=export_id),
                                                 timeout=deps.clients.timeout_s)
    if export.status != "done":
        raise ApiError(409, f"export {export_id} is {export.status}, not done")
    media_type = mimetypes.guess_type(export.file_name)[0] or "application/octet-stream"
    return await make_link(request, deps.store.uri_for(export.object_key), media_type, export.file_name, expires_in)


@router.get("/signed/{token}", response_model=None, responses=FILE_RESPONSES)
async def signed(token: str, request: Request) -> Response:
    """Serve what a signed link points at (no bearer token: the signature and its expiry are the permission)."""
    deps = _deps(request)
    claims = verify_link(deps.signing_key, token)
    uri: str = claims["u"]
    headers = {"cache-control": "private, max-age=60"}
    if claims.get("n"):
        headers["content-disposition"] = f'attachment; filename="{claims["n"]}"'
    if uri.startswith("local://"):  # streamed: an export may be large
        stream = deps.store.stream(uri.removeprefix("local://"))
        try:
            first = await anext(stream)
        except StopAsyncIteration:
            first = b""
        except ObjectNotFound as exc:
            raise ApiError(404, "the linked object no longer exists") from exc

        async def body() -> AsyncIterator[bytes]:
            yield first
            async for chunk in stream:
                yield chunk

        return StreamingResponse(body(), media_type=claims["t"], headers=headers)
    try:
        data = await deps.store.read_uri(uri)
    except ObjectNotFound as exc:
        raise ApiError(404, "the linked object no longer exists") from exc
    return Response(data, media_type=claims["t"], headers=headers)


async def record_export(deps: Deps, user: User, export: export_pb2.Export) -> None:
    """Audit a new export (the export service made it; this records who asked for it and what)."""
    async with deps.pool.acquire() as conn:
        await audit.record(
            conn, actor_id=user.id, actor_name=user.username, action="create", entity="export",
            entity_id=export.export_id,
            after={"format": export.format, "project_id": export.project_id, "version": export.version,
                   "since": export.base_export_id or None, "status": export.status},
            refs={"project_id": export.project_id},
        )


# -- upload types ------------------------------------------------------------------------------------------------
UPLOAD_EXTENSIONS = frozenset({
    ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff",
    ".wav", ".mp3", ".ogg", ".oga", ".flac", ".m4a", ".opus",
    ".mp4", ".m4v", ".webm", ".mov", ".mkv", ".avi",
    ".txt", ".json", ".jsonl",
})
UPLOAD_TYPE_PREFIXES = ("image/", "audio/", "video/", "text/plain")
JSON_BODY_TYPES = ("application/json", "application/x-ndjson", "application/jsonl", "application/json-lines",
                   "application/x-jsonlines", "text/plain", "")


def check_upload_type(filename: str | None, content_type: str | None) -> None:
    """415 unless the uploaded file is media or text by its name or its declared type."""
    name = (filename or "").lower()
    ext = name[name.rfind("."):] if "." in name else ""
    declared = (content_type or "").split(";")[0].strip().lower()
    if ext in UPLOAD_EXTENSIONS or declared.startswith(UPLOAD_TYPE_PREFIXES):
        return
    raise ApiError(415, f"files: {filename!r} ({declared or 'no type'}) is not an accepted upload: send images, "
                        f"audio, video or text ({', '.join(sorted(UPLOAD_EXTENSIONS))})")


def check_json_body_type(content_type: str) -> None:
    """415 unless an item list arrives as JSON (or JSON Lines)."""
    declared = content_type.split(";")[0].strip().lower()
    if declared not in JSON_BODY_TYPES:
        raise ApiError(415, f"content-type {declared!r} is not accepted here: send a JSON list of items "
                            "(application/json), JSON Lines (?format=jsonl) or multipart/form-data files")


async def record_webhook(deps: Deps, user: User, action: str, webhook_id: str, after: dict[str, Any]) -> None:
    """Audit a webhook made or deleted in the export service (never its secret)."""
    async with deps.pool.acquire() as conn:
        await audit.record(conn, actor_id=user.id, actor_name=user.username, action=action, entity="webhook",
                           entity_id=webhook_id, after=after, refs={"project_id": after.get("project_id")})
