"""Projects: stored here, configured in the orchestrator and qa over gRPC before commit."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg

from annotary.orchestrator.v1 import orchestrator_pb2
from annotary.qa.v1 import qa_pb2
from annotary_annotation_api.adapters.clients import Clients
from annotary_annotation_api.domain.models import ProjectIn


class ProjectNameTaken(Exception):
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
    conn: asyncpg.Connection, clients: Clients, body: ProjectIn, created_by: uuid.UUID
) -> dict[str, Any]:
    project_id = uuid.uuid4()
    schema = body.schema_.model_dump(mode="json", exclude_none=True)
    policy = body.policy.model_dump(mode="json")
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
        # Configure the services before the project becomes visible; a failure rolls everything back
        # (the calls are idempotent upserts, so a retry after a partial failure is harmless).
        await clients.qa.ConfigureProject(
            qa_pb2.ConfigureProjectRequest(
                project_id=str(project_id),
                schema_json=json.dumps(schema),
                schema_version=1,
                agreement_threshold=body.policy.agreement_threshold,
                review=body.policy.review,
            ),
            timeout=clients.timeout_s,
        )
        await clients.orchestrator.ConfigureProject(
            orchestrator_pb2.ConfigureProjectRequest(
                project_id=str(project_id),
                policy=orchestrator_pb2.ProjectPolicy(**policy),
            ),
            timeout=clients.timeout_s,
        )
    assert row is not None
    return project_view(row)


async def get_project(conn: asyncpg.Connection, project_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM projects WHERE id = $1", project_id)


async def list_projects(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    return [project_view(r) for r in await conn.fetch("SELECT * FROM projects ORDER BY created_at")]
