"""Model routes (docs/rest-api.md "Models"): a project's model versions with their lineage, manual promotion,
and connecting a model served elsewhere (a Label Studio ML backend or an OpenAI-compatible chat endpoint).
preannotate owns the registry; these routes call it over gRPC. Who may call them is the access table's
(domain/access.py, enforced before the handler), not a check here."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from annotary.preannotate.v1 import preannotate_pb2
from annotary_annotation_api.entrypoints.lookups import project_row, proto_time
from annotary_annotation_api.service_layer.users import User

if TYPE_CHECKING:
    from annotary_annotation_api.entrypoints.http import Deps


async def _user(request: Request) -> User:
    from annotary_annotation_api.entrypoints.http import current_user

    return await current_user(request)


ModelUser = Annotated[User, Depends(_user)]
router = APIRouter(tags=["models"])


class ConnectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plugin: Literal["ls-ml-backend", "openai-chat", "audio-energy-vad"]
    url: Annotated[str, Field(max_length=2048, pattern=r"^(https?://.*)?$",
                              description="the model's address (not for the built-in audio-energy-vad)")] = ""
    model: Annotated[str, Field(max_length=256, description="openai-chat: the served model's name")] = ""
    api_key: Annotated[str, Field(max_length=1024, description="openai-chat: sent as a bearer token")] = ""


class PromoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model_version: Annotated[str, Field(min_length=1, max_length=512)]


def _deps(request: Request) -> Deps:
    deps: Deps = request.app.state.deps
    return deps


def version_view(v: preannotate_pb2.ModelVersion) -> dict[str, Any]:
    return {
        "model_version": v.model_version, "plugin": v.plugin, "status": v.status, "serving": v.serving,
        "parent_version": v.parent_version or None, "metrics": json.loads(v.metrics_json or "{}"),
        "training_items": v.training_items, "heldout_items": v.heldout_items,
        "lineage": json.loads(v.training_data_json or "{}"), "promoted_by": v.promoted_by or None,
        "created_at": proto_time(v, "created_at"), "promoted_at": proto_time(v, "promoted_at"),
    }


@router.get("/projects/{project_id}/models")
async def list_models(project_id: str, request: Request, user: ModelUser) -> list[dict[str, Any]]:
    deps = _deps(request)
    await project_row(deps, project_id)
    reply = await deps.clients.preannotate.ListModelVersions(
        preannotate_pb2.ListModelVersionsRequest(project_id=project_id), timeout=deps.clients.timeout_s)
    return [version_view(v) for v in reply.versions]


@router.post("/projects/{project_id}/models/promote")
async def promote_model(project_id: str, body: PromoteIn, request: Request, user: ModelUser) -> dict[str, Any]:
    """Make a registered version the serving one (the part of the queue served next is re-predicted and re-scored
    with it; new items always are)."""
    deps = _deps(request)
    await project_row(deps, project_id)
    reply = await deps.clients.preannotate.PromoteModelVersion(
        preannotate_pb2.PromoteModelVersionRequest(project_id=project_id, model_version=body.model_version,
                                                   actor=user.username), timeout=deps.clients.timeout_s)
    return version_view(reply)


@router.post("/projects/{project_id}/models/connect", status_code=201)
async def connect_model(project_id: str, body: ConnectIn, request: Request, user: ModelUser) -> dict[str, Any]:
    """Check the model answers (health, setup), register it as the project's next version and serve it: new
    items get its pre-labels and uncertainty scores."""
    deps = _deps(request)
    project = await project_row(deps, project_id)
    schema = project["schema"] if isinstance(project["schema"], str) else json.dumps(project["schema"])
    reply = await deps.clients.preannotate.ConnectModel(
        preannotate_pb2.ConnectModelRequest(project_id=project_id, plugin=body.plugin, url=body.url,
                                            model=body.model, api_key=body.api_key, label_schema_json=schema,
                                            actor=user.username),
        timeout=max(deps.clients.timeout_s, 30.0))
    return version_view(reply)
