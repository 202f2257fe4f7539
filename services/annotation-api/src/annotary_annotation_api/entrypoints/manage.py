"""Project management routes beyond create/patch/import/export (http.py): label schema versions and label
migrations, the project's people (roles, per-project quality, pause and reinstate)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from annotary.qa.v1 import qa_pb2
from annotary_annotation_api.domain.models import LabelSchema, ProjectPatch
from annotary_annotation_api.domain.roles import Role
from annotary_annotation_api.entrypoints.errors import ApiError
from annotary_annotation_api.entrypoints.lookups import parse_id, project_or_404
from annotary_annotation_api.entrypoints.views import annotator_view
from annotary_annotation_api.service_layer import audit, projects, schemas
from annotary_annotation_api.service_layer.users import User

if TYPE_CHECKING:
    from annotary_annotation_api.entrypoints.http import Deps


async def _user(request: Request) -> User:
    from annotary_annotation_api.entrypoints.http import current_user

    return await current_user(request)


ManageUser = Annotated[User, Depends(_user)]
router = APIRouter(tags=["manage"])


class MigrateIn(BaseModel):
    """With ``schema``: make it the project's new version, then migrate the previous version's accepted
    annotations with ``mapping``. Without: migrate ``from_version`` to the current version."""

    model_config = ConfigDict(extra="forbid")
    schema_: LabelSchema | None = Field(default=None, alias="schema")
    from_version: Annotated[int | None, Field(ge=1)] = None
    mapping: dict[str, str | None] = Field(default_factory=dict)


class PauseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class RoleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role


def _deps(request: Request) -> Deps:
    deps: Deps = request.app.state.deps
    return deps


# -- schema versions and label migrations ------------------------------------------------------------------
@router.get("/projects/{project_id}/schema/versions")
async def schema_versions(project_id: str, request: Request, user: ManageUser) -> list[dict[str, Any]]:
    """Every version of the label schema, oldest first, with the label migrations into it."""
    deps = _deps(request)
    await project_or_404(deps, project_id)
    async with deps.pool.acquire() as conn:
        return await schemas.versions(conn, uuid.UUID(project_id))


@router.post("/projects/{project_id}/schema/migrate")
async def migrate(project_id: str, body: MigrateIn, request: Request, user: ManageUser) -> dict[str, Any]:
    deps = _deps(request)
    project = await project_or_404(deps, project_id)
    pid = uuid.UUID(project_id)
    current = int(project["schema_version"])
    if body.schema_ is not None:
        new_schema = body.schema_.model_dump(mode="json", exclude_none=True)
        if new_schema == project["schema"]:
            raise ApiError(422, "schema: it is the same as the current version; change something to make a new one")
        from_version, to_version, old_schema = current, current + 1, project["schema"]
    else:
        if body.from_version is None:
            raise ApiError(422, "from_version: give the version to migrate from (or a new schema)")
        if body.from_version >= current:
            raise ApiError(422, f"from_version: must be older than the current version {current}")
        from_version, to_version, new_schema = body.from_version, current, project["schema"]
        async with deps.pool.acquire() as conn:
            found = await schemas.version_schema(conn, pid, from_version)
        if found is None:
            raise ApiError(404, f"schema version {from_version} of project {project_id} not found")
        old_schema = found
    try:
        mapping = schemas.check_mapping(old_schema, new_schema, body.mapping)
    except schemas.MappingError as exc:
        raise ApiError(422, str(exc)) from exc
    if body.schema_ is not None:  # the new version first: qa only migrates to a version it has been told about
        patch = ProjectPatch.model_validate({"schema": new_schema})
        async with deps.pool.acquire() as conn:
            updated = await projects.update_project(conn, deps.clients, pid, patch, actor=user)
        to_version = int(updated["schema_version"])
    reply = await deps.clients.qa.MigrateLabels(
        qa_pb2.MigrateLabelsRequest(
            project_id=project_id, from_version=from_version, to_version=to_version, mapping=mapping, actor=str(user.id)
        ),
        timeout=max(deps.clients.timeout_s, 120.0),
    )
    counts = (reply.migrated, reply.regions_relabeled, reply.regions_dropped)
    async with deps.pool.acquire() as conn, conn.transaction():
        await schemas.record_migration(conn, pid, from_version, to_version, mapping, counts, user.id)
        await audit.record(
            conn,
            actor_id=user.id,
            actor_name=user.username,
            action="migrate",
            entity="schema",
            entity_id=project_id,
            before={"version": from_version},
            after={"version": to_version, "mapping": mapping},
            refs={"project_id": project_id, "migrated": reply.migrated},
        )
    return {
        "project_id": project_id,
        "from_version": from_version,
        "to_version": to_version,
        "mapping": mapping,
        "migrated": reply.migrated,
        "regions_relabeled": reply.regions_relabeled,
        "regions_dropped": reply.regions_dropped,
    }


# -- people ---------------------------------------------------------------------------------------------------
@router.get("/projects/{project_id}/people")
async def people(project_id: str, request: Request, user: ManageUser) -> list[dict[str, Any]]:
    """Every user with their role and, for those who worked in this project, their quality and pause state."""
    deps = _deps(request)
    await project_or_404(deps, project_id)
    reply = await deps.clients.qa.GetAnnotatorMetrics(
        qa_pb2.GetAnnotatorMetricsRequest(project_id=project_id), timeout=deps.clients.timeout_s
    )
    metrics = {m.annotator_id: m for m in reply.annotators}
    async with deps.pool.acquire() as conn:
        rows = await conn.fetch("SELECT id, username, role FROM users ORDER BY username")
    out = []
    for row in rows:
        m = metrics.get(str(row["id"]))
        view = (
            annotator_view(m, row["username"])
            if m is not None
            else {
                "annotator_id": str(row["id"]),
                "username": row["username"],
                "submissions": 0,
                "paused": False,
                "pause_reason": None,
            }
        )
        out.append({**view, "role": row["role"]})
    return out


@router.post("/projects/{project_id}/annotators/{annotator_id}/pause")
async def pause(
    project_id: str, annotator_id: str, body: PauseIn, request: Request, user: ManageUser
) -> dict[str, Any]:
    deps = _deps(request)
    await project_or_404(deps, project_id)
    reply = await deps.clients.qa.PauseAnnotator(
        qa_pb2.PauseAnnotatorRequest(
            project_id=project_id,
            annotator_id=str(parse_id(annotator_id, "annotator")),
            reason=body.reason,
            actor=str(user.id),
        ),
        timeout=deps.clients.timeout_s,
    )
    return {"annotator_id": annotator_id, "paused": True, "changed": reply.paused}


@router.post("/users/{user_id}/role")
async def set_role(user_id: str, body: RoleIn, request: Request, user: ManageUser) -> dict[str, Any]:
    """Managers move people between annotator, reviewer and manager; only an admin grants or takes admin."""
    deps = _deps(request)
    uid = parse_id(user_id, "user")
    async with deps.pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow("SELECT id, username, role FROM users WHERE id = $1 FOR UPDATE", uid)
        if row is None:
            raise ApiError(404, f"user {user_id} not found")
        if Role.ADMIN in (body.role, Role(row["role"])) and user.role != Role.ADMIN:
            raise ApiError(403, "only an admin grants or takes the admin role")
        if uid == user.id and body.role != user.role:
            raise ApiError(422, "role: you cannot change your own role")
        if row["role"] != body.role.value:
            await conn.execute("UPDATE users SET role = $2 WHERE id = $1", uid, body.role.value)
            await audit.record(
                conn,
                actor_id=user.id,
                actor_name=user.username,
                action="set_role",
                entity="user",
                entity_id=uid,
                before={"role": row["role"]},
                after={"role": body.role.value},
            )
    return {"id": user_id, "username": row["username"], "role": body.role.value}
