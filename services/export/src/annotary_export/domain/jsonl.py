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
        "annotations": [{"result": item.result, "agreement": item.agreement, "annotators": item.annotators}],
    }
