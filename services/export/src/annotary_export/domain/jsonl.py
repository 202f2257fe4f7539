"""Annotary's own JSONL: one line per accepted item, with its data, meta and the accepted result."""

from __future__ import annotations

from typing import Any

from annotary_export.domain.model import AcceptedItem


def jsonl_record(item: AcceptedItem) -> dict[str, Any]:
    data = {"text": item.text} if item.modality == "text" else {item.modality: item.media_uri}
    return {
        "id": item.item_id,
        "external_id": item.external_id,
        "data": data,
        "meta": item.meta,
        "width": item.width,
        "height": item.height,
        "annotations": [{"id": item.annotation_id, "result": item.result, "agreement": item.agreement,
                         "agreement_metric": item.agreement_metric, "annotators": item.annotators,
                         "round": item.round, "schema_version": item.schema_version, "decided_by": item.decided_by,
                         "prelabel_model_versions": item.prelabel_model_versions}],
    }
