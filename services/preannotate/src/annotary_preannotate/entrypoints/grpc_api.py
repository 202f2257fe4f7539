"""gRPC ``annotary.preannotate.v1.PreannotateService``: predict on demand and the model registry."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import asyncpg
import grpc
import httpx
from google.protobuf.timestamp_pb2 import Timestamp

from annotary.preannotate.v1 import preannotate_pb2, preannotate_pb2_grpc
from annotary_common.grpc_util import FailedPrecondition, InvalidArgument, NotFound, handles_errors
from annotary_preannotate.domain.plugin import PredictItem
from annotary_preannotate.models import READY_MADE, REMOTE, ModelConfigError, ready_made_plugin, remote_plugin
from annotary_preannotate.service_layer import registry
from annotary_preannotate.service_layer.worker import Worker

MAX_ITEMS = 1000


def _ts(value: Any) -> Timestamp | None:
    if value is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


class PreannotateServicer(preannotate_pb2_grpc.PreannotateServiceServicer):
    def __init__(self, pool: asyncpg.Pool, worker: Worker) -> None:
        self.pool = pool
        self.worker = worker

    @handles_errors
    async def Predict(self, request: preannotate_pb2.PredictRequest,
                      context: grpc.aio.ServicerContext[Any, Any]) -> preannotate_pb2.PredictResponse:
        if not request.project_id:
            raise InvalidArgument("project_id is required")
        if len(request.items) > MAX_ITEMS:
            raise InvalidArgument(f"items: at most {MAX_ITEMS} per call, got {len(request.items)}")
        for i, item in enumerate(request.items):
            if not item.text:
                raise InvalidArgument(f"items[{i}].text is empty")
        version = request.model_version
        async with self.pool.acquire() as conn:
            if not version:
                version = await registry.serving_version(conn, request.project_id) or ""
                if not version:
                    raise FailedPrecondition(f"project {request.project_id} has no trained model yet")
            elif await registry.artifact_of(conn, version) is None:
                raise NotFound(f"model_version {version!r} is not registered")
        predictions = await self.worker.predict(
            version, [PredictItem(item.item_id, item.text) for item in request.items], project_id=request.project_id)
        return preannotate_pb2.PredictResponse(predictions=[
            preannotate_pb2.ItemPrediction(item_id=p.item_id, model_version=p.model_version, score=p.score,
                                           result_json=json.dumps(p.result),
                                           uncertainty=self.worker.uncertainty(p)) for p in predictions])

    @handles_errors
    async def ListModelVersions(self, request: preannotate_pb2.ListModelVersionsRequest,
                                context: grpc.aio.ServicerContext[Any, Any]
                                ) -> preannotate_pb2.ListModelVersionsResponse:
        if not request.project_id:
            raise InvalidArgument("project_id is required")
        async with self.pool.acquire() as conn:
            records = await registry.list_versions(conn, request.project_id)
        return preannotate_pb2.ListModelVersionsResponse(versions=[_version(r) for r in records])

    @handles_errors
    async def PromoteModelVersion(self, request: preannotate_pb2.PromoteModelVersionRequest,
                                  context: grpc.aio.ServicerContext[Any, Any]) -> preannotate_pb2.ModelVersion:
        if not request.project_id or not request.model_version:
            raise InvalidArgument("project_id and model_version are required")
        if not request.actor:
            raise InvalidArgument("actor is required (who promotes)")
        async with self.pool.acquire() as conn, conn.transaction():
            if not await registry.promote(conn, request.project_id, request.model_version, request.actor,
                                          self.worker.config.rescore_window):
                raise NotFound(f"model_version {request.model_version!r} is not a version of this project")
            records = await registry.list_versions(conn, request.project_id)
        self.worker.wake()
        return next(_version(r) for r in records if r.model_version == request.model_version)

    @handles_errors
    async def ConnectModel(self, request: preannotate_pb2.ConnectModelRequest,
                           context: grpc.aio.ServicerContext[Any, Any]) -> preannotate_pb2.ModelVersion:
        if not request.project_id or not request.actor:
            raise InvalidArgument("project_id and actor (who connects the model) are required")
        if request.plugin not in (*REMOTE, *READY_MADE):
            raise InvalidArgument(f"plugin must be one of {', '.join((*REMOTE, *READY_MADE))}, got {request.plugin!r}")
        try:
            schema = json.loads(request.label_schema_json or "null")
        except ValueError as exc:
            raise InvalidArgument(f"label_schema_json is not JSON: {exc}") from None
        if request.plugin in READY_MADE:
            return await self._connect_ready_made(request, schema)
        config: dict[str, Any] = {"url": request.url, "label_schema": schema, "project": request.project_id}
        if request.model:
            config["model"] = request.model
        if request.api_key:
            config["api_key"] = request.api_key
        try:
            model = remote_plugin(request.plugin, config)
            await asyncio.to_thread(model.setup)  # the backend must answer before it serves anything
        except (ModelConfigError, ValueError, httpx.InvalidURL) as exc:
            raise InvalidArgument(f"url: {exc}" if isinstance(exc, httpx.InvalidURL) else str(exc)) from None
        except (httpx.HTTPError, RuntimeError) as exc:
            raise FailedPrecondition(f"the model at {request.url} did not answer its setup: {exc}") from None
        details = {"remote": request.url, "plugin": request.plugin, "backend_version": model.model_version}
        return await self._register_connected(request, json.dumps(config).encode(), details)

    async def _connect_ready_made(self, request: preannotate_pb2.ConnectModelRequest,
                                  schema: Any) -> preannotate_pb2.ModelVersion:
        """A built-in model that needs no training (no URL): its configuration is the artifact."""
        try:
            model = ready_made_plugin(request.plugin, schema)
        except ModelConfigError as exc:
            raise InvalidArgument(str(exc)) from None
        artifact = model.dumps()
        details = {"plugin": request.plugin, "built_in": True, "config": json.loads(artifact)}
        return await self._register_connected(request, artifact, details)

    async def _register_connected(self, request: preannotate_pb2.ConnectModelRequest, artifact: bytes,
                                  details: dict[str, Any]) -> preannotate_pb2.ModelVersion:
        """Store a connected model's artifact (its JSON configuration), register it as the project's next version,
        serve it, and wake the worker to pre-label the queue with it."""
        key = f"{self.worker.config.model_prefix}/{request.project_id}/{uuid.uuid4().hex}.json"
        await self.worker.store.put(key, artifact, "application/json")
        async with self.pool.acquire() as conn, conn.transaction():
            version = await registry.record_connected(conn, project_id=request.project_id, plugin=request.plugin,
                                                      actor=request.actor, artifact_key=key, details=details,
                                                      window=self.worker.config.rescore_window)
            records = await registry.list_versions(conn, request.project_id)
        self.worker.wake()
        return next(_version(r) for r in records if r.model_version == version)


def _version(r: registry.VersionRecord) -> preannotate_pb2.ModelVersion:
    return preannotate_pb2.ModelVersion(
        model_version=r.model_version, project_id=r.project_id, plugin=r.plugin, status=r.status,
        parent_version=r.parent_version or "", metrics_json=json.dumps(r.metrics), training_items=r.training_items,
        heldout_items=r.heldout_items, training_data_json=json.dumps(r.training_data),
        promoted_by=r.promoted_by or "", created_at=_ts(r.created_at), promoted_at=_ts(r.promoted_at),
        serving=r.serving)
