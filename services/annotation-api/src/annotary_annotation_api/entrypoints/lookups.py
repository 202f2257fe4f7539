"""Lookups the route modules share: an id in a path that is not a UUID, and a project that does not exist, are
both a 404 that names what was asked for."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from annotary_annotation_api.entrypoints.errors import ApiError
from annotary_annotation_api.service_layer import projects

if TYPE_CHECKING:
    from annotary_annotation_api.entrypoints.http import Deps


def parse_id(value: str, name: str) -> uuid.UUID:
    """``value`` as a UUID; anything else is a 404 for the ``name`` it was meant to be."""
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise ApiError(404, f"{name} {value!r} not found") from exc


async def project_row(deps: Deps, project_id: str) -> Any:
    """The project's row, or a 404."""
    async with deps.pool.acquire() as conn:
        row = await projects.get_project(conn, parse_id(project_id, "project"))
    if row is None:
        raise ApiError(404, f"project {project_id} not found")
    return row


async def project_or_404(deps: Deps, project_id: str) -> dict[str, Any]:
    """The project as the API shows it, or a 404."""
    return projects.project_view(await project_row(deps, project_id))


def proto_time(message: Any, name: str) -> str | None:
    """A protobuf Timestamp field as ISO 8601 (UTC, ``Z``), or None when it is unset."""
    return str(getattr(message, name).ToDatetime().isoformat()) + "Z" if message.HasField(name) else None
