"""Projects: stored here, configured in the orchestrator and qa over gRPC before commit."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg

from annotary.orchestrator.v1 import orchestrator_pb2
from annotary.qa.v1 import qa_pb2
from annotary_annotation_api.adapters.clients import Clients
from annotary_annotation_api.domain.models import Policy, ProjectIn, ProjectPatch
from annotary_annotation_api.service_layer import audit
from annotary_annotation_api.service_layer.users import User


class ProjectNameTaken(Exception):
    pass


class ProjectNotFound(Exception):
    pass


def project_view(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "name": row["name"],
        "schema": json.loads(row["schema"]),
        "schema_version": row["schema_version"],
        "policy": json.loads(row["policy"]),
        "created_at": row["created_at"].isoformat(),
    }


async def create_project(
    conn: asyncpg.Connection, clients: Clients, body: ProjectIn, created_by: uuid.UUID, actor_name: str | None = None
) -> dict[str, Any]:
    project_id = uuid.uuid4()
    schema = body.schema_.model_dump(mode="json", exclude_none=True)
    policy = body.policy.model_dump(mode="json")  # stored with every default filled in
    async with conn.transaction():
        try:
            row = await conn.fetchrow(
                """INSERT INTO projects (id, name, schema, policy, created_by) VALUES ($1, $2, $3, $4, $5)
                   RETURNING *""",
                project_id,
                body.name,
                json.dumps(schema),
                json.dumps(policy),
                created_by,
            )
        except asyncpg.UniqueViolationError as exc:
            raise ProjectNameTaken(body.name) from exc
        await conn.execute(
            "INSERT INTO schema_versions (project_id, version, schema) VALUES ($1, 1, $2)",
            project_id,
            json.dumps(schema),
        )
        assert row is not None
        await audit.record(conn, actor_id=created_by, actor_name=actor_name, action="create", entity="project",
                           entity_id=project_id, after=project_view(row))
        await audit.record(conn, actor_id=created_by, actor_name=actor_name, action="create", entity="schema",
                           entity_id=project_id, after={"version": 1, "schema": schema},
                           refs={"project_id": str(project_id)})
        await audit.record(conn, actor_id=created_by, actor_name=actor_name, action="create", entity="policy",
                           entity_id=project_id, after=policy, refs={"project_id": str(project_id)})
        # Configure the services before the project becomes visible; a failure rolls everything back
        # (the calls are idempotent upserts, so a retry after a partial failure is harmless).
        await configure_services(clients, project_id, schema, 1, body.policy)
    assert row is not None
    return project_view(row)


async def configure_services(
    clients: Clients, project_id: uuid.UUID, schema: dict[str, Any], schema_version: int, policy: Policy
) -> None:
    """Tell qa (rules, quality policy) and the orchestrator (distribution policy) about the project."""
    await clients.qa.ConfigureProject(
        qa_pb2.ConfigureProjectRequest(
            project_id=str(project_id),
            schema_json=json.dumps(schema),
            schema_version=schema_version,
            agreement_threshold=policy.agreement_threshold,
            review=policy.review,
            gold_min_accuracy=policy.gold_min_accuracy,
            qualification_items=policy.qualification_items,
            qualification_min_accuracy=policy.qualification_min_accuracy,
            overlap=policy.overlap,
        ),
        timeout=clients.timeout_s,
    )
    await clients.orchestrator.ConfigureProject(
        orchestrator_pb2.ConfigureProjectRequest(
            project_id=str(project_id),
            policy=orchestrator_pb2.ProjectPolicy(**policy.model_dump(mode="json")),
            schema_version=schema_version,
            task_type=task_type_of(schema),
        ),
        timeout=clients.timeout_s,
    )


def task_type_of(schema: dict[str, Any]) -> str:
    """The project's kind for the metrics: ``<modality>:<tools joined by +>``, e.g. ``image:bbox+polygon``."""
    tools = "+".join(sorted(str(t) for t in schema.get("tools") or ()))
    return f"{schema.get('modality', 'unknown')}:{tools or 'none'}"[:100]


async def update_project(
    conn: asyncpg.Connection, clients: Clients, project_id: uuid.UUID, patch: ProjectPatch,
    actor: User | None = None,
) -> dict[str, Any]:
    """A schema change makes a new schema version (old annotations keep theirs); policy changes apply to
    items and rounds created from now on."""
    async with conn.transaction():
        row = await conn.fetchrow("SELECT * FROM projects WHERE id = $1 FOR UPDATE", project_id)
        if row is None:
            raise ProjectNotFound(str(project_id))
        schema = json.loads(row["schema"])
        version = row["schema_version"]
        policy = Policy.model_validate(json.loads(row["policy"]))
        old_schema, old_version, old_policy = schema, version, json.loads(row["policy"])
        if patch.schema_ is not None:
            new_schema = patch.schema_.model_dump(mode="json", exclude_none=True)
            if new_schema != schema:
                schema, version = new_schema, version + 1
                await conn.execute(
                    "INSERT INTO schema_versions (project_id, version, schema) VALUES ($1, $2, $3)",
                    project_id,
                    version,
                    json.dumps(schema),
                )
        if patch.policy is not None:
            policy = patch.policy
        row = await conn.fetchrow(
            "UPDATE projects SET schema = $2, schema_version = $3, policy = $4 WHERE id = $1 RETURNING *",
            project_id,
            json.dumps(schema),
            version,
            json.dumps(policy.model_dump(mode="json")),
        )
        actor_id, actor_name = (actor.id, actor.username) if actor else ("system", None)
        refs = {"project_id": str(project_id)}
        if version != old_version:
            await audit.record(conn, actor_id=actor_id, actor_name=actor_name, action="update", entity="schema",
                               entity_id=project_id, refs=refs,
                               before={"version": old_version, "schema": old_schema},
                               after={"version": version, "schema": schema})
        new_policy = policy.model_dump(mode="json")
        if new_policy != old_policy:
            await audit.record(conn, actor_id=actor_id, actor_name=actor_name, action="update", entity="policy",
                               entity_id=project_id, refs=refs,
                               before=old_policy, after=new_policy)
        await configure_services(clients, project_id, schema, version, policy)
    assert row is not None
    return project_view(row)


async def get_project(conn: asyncpg.Connection, project_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM projects WHERE id = $1", project_id)


async def list_projects(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    return [project_view(r) for r in await conn.fetch("SELECT * FROM projects ORDER BY created_at")]
