"""The manifest of a dataset version: what the snapshot holds (item ids, annotation ids and versions,
annotators, schema version, QA agreement, pre-label model versions) and which snapshot it differs from.

Written as one JSON document, streamed: the header fields, then ``items`` one by one, then ``file`` and counts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from annotary_export.domain.exporters import Written
from annotary_export.domain.model import AcceptedItem

_ENCODER = json.JSONEncoder(ensure_ascii=False)


def manifest_entry(item: AcceptedItem) -> dict[str, Any]:
    return {"item_id": item.item_id, "external_id": item.external_id, "annotation_id": item.annotation_id,
            "annotation_version": item.round, "revision": item.revision, "annotators": list(item.annotators),
            "schema_version": item.schema_version, "agreement": item.agreement,
            "agreement_metric": item.agreement_metric, "decided_by": item.decided_by,
            "prelabel_model_versions": list(item.prelabel_model_versions)}


class ManifestWriter:
    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        self._out = path.open("w", encoding="utf-8")
        body = json.dumps(header, ensure_ascii=False)
        self._out.write(body[:-1] + ', "items": [')
        self._count = 0
        self._schema_versions: set[int] = set()
        self._models: set[str] = set()

    def write(self, items: Sequence[AcceptedItem]) -> None:
        if not items:
            return
        body = ",\n".join(_ENCODER.encode(manifest_entry(item)) for item in items)
        self._out.write(("," if self._count else "") + "\n" + body)
        self._count += len(items)
        for item in items:
            self._schema_versions.add(item.schema_version)
            self._models.update(item.prelabel_model_versions)

    def close(self, written: Written) -> None:
        tail = {"item_count": self._count, "schema_versions": sorted(self._schema_versions),
                "prelabel_model_versions": sorted(self._models),
                "file": {"name": written.file_name, "content_type": written.content_type,
                         "items": written.item_count, "annotations": written.annotation_count}}
        self._out.write("\n], " + json.dumps(tail, ensure_ascii=False)[1:] + "\n")
        self._out.close()
