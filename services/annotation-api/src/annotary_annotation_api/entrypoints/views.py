"""JSON views of the gRPC messages the gateway returns."""

from __future__ import annotations

import json
from typing import Any

from annotary.export.v1 import export_pb2
from annotary.orchestrator.v1 import orchestrator_pb2


def _json_or(raw: str, default: Any) -> Any:
    return json.loads(raw) if raw else default


def task_view(task: orchestrator_pb2.Task) -> dict[str, Any]:
    item = task.item
    return {
        "id": task.task_id,
        "project_id": task.project_id,
        "state": task.state,
        "item_state": task.item_state,
        "annotator_id": task.annotator_id or None,
        "lease_expires_at": task.lease_expires_at.ToDatetime().isoformat() + "Z"
        if task.HasField("lease_expires_at")
        else None,
        "item": {
            "id": item.item_id,
            "external_id": item.external_id,
            "modality": item.modality,
            "media_url": f"/api/v1/tasks/{task.task_id}/media" if item.media_uri else None,
            "media_type": item.media_type or None,
            "text": item.text if item.modality == "text" else None,
            "width": item.width or None,
            "height": item.height or None,
            "meta": _json_or(item.meta_json, {}),
        },
        "predictions": [
            {"model_version": p.model_version, "score": p.score, "result": _json_or(p.result_json, [])}
            for p in task.predictions
        ],
        "result": _json_or(task.result_json, None),
    }


def export_view(export: export_pb2.Export) -> dict[str, Any]:
    return {
        "id": export.export_id,
        "project_id": export.project_id,
        "format": export.format,
        "status": export.status,
        "item_count": export.item_count,
        "annotation_count": export.annotation_count,
        "error": export.error or None,
        "file_name": export.file_name or None,
        "created_at": export.created_at.ToDatetime().isoformat() + "Z" if export.HasField("created_at") else None,
        "download_url": f"/api/v1/exports/{export.export_id}/download" if export.status == "done" else None,
    }
