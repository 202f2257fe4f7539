"""JSON views of the gRPC messages the gateway returns."""

from __future__ import annotations

import json
import math
from typing import Any

from annotary.export.v1 import export_pb2
from annotary.orchestrator.v1 import orchestrator_pb2
from annotary.qa.v1 import qa_pb2


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
        "round": task.round or 1,
        "feedback": task.feedback or None,
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


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _ts(stamp: Any) -> str:
    return str(stamp.ToDatetime().isoformat()) + "Z"


def annotator_view(m: qa_pb2.AnnotatorMetrics, username: str | None) -> dict[str, Any]:
    return {
        "annotator_id": m.annotator_id,
        "username": username,
        "submissions": m.submissions,
        "throughput_per_hour": _finite(m.throughput_per_hour),
        "gold_accuracy": _finite(m.gold_accuracy),
        "gold_scored": m.gold_scored,
        "agreement_with_consensus": _finite(m.agreement_with_consensus),
        "rejection_rate": _finite(m.rejection_rate),
        "median_lead_time_ms": _finite(m.median_lead_time_ms),
        "p95_lead_time_ms": _finite(m.p95_lead_time_ms),
        "paused": m.paused,
        "pause_reason": m.pause_reason or None,
    }


def history_view(e: orchestrator_pb2.HistoryEntry) -> dict[str, Any]:
    return {
        "item_id": e.item_id,
        "task_id": e.task_id or None,
        "actor": e.actor,
        "from": e.from_state or None,
        "to": e.to_state,
        "reason": e.reason or None,
        "at": _ts(e.at),
    }


def review_view(r: qa_pb2.ReviewItem) -> dict[str, Any]:
    item = r.item
    return {
        "item": {
            "id": item.item_id,
            "external_id": item.external_id,
            "modality": item.modality,
            "text": item.text if item.modality == "text" else None,
            "width": item.width or None,
            "height": item.height or None,
        },
        "round": r.round,
        "reason": r.reason,
        "agreement": _finite(r.agreement),
        "submissions": [
            {"task_id": s.task_id, "annotator_id": s.annotator_id, "result": _json_or(s.result_json, [])}
            for s in r.submissions
        ],
    }
