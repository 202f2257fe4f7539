"""Importing another tool's export (Label Studio JSON, COCO, YOLO, CoNLL): parse it into items, their accepted
annotations and predictions, then import them like any batch (all or nothing); the accepted annotations are
published as ``annotation.accepted`` with the items' ``item.ingested``, in the same transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence

import asyncpg

from annotary_common.grpc_util import InvalidArgument
from annotary_common.storage import ObjectNotFound, ObjectStore
from annotary_ingest.domain.foreign import ForeignInvalid, InFile, parse_foreign
from annotary_ingest.domain.items import RawItem
from annotary_ingest.service_layer.importing import (
    AcceptedImport,
    ImportLimits,
    ImportResult,
    import_items,
    project_or_invalid,
)


async def import_foreign(pool: asyncpg.Pool, store: ObjectStore, project_id: str, fmt: str,
                         files: Sequence[InFile], limits: ImportLimits = ImportLimits()) -> ImportResult:
    project_or_invalid(project_id)
    try:
        parsed = parse_foreign(fmt, files)
    except ForeignInvalid as exc:
        raise InvalidArgument(str(exc)) from None
    entries: list[RawItem] = []
    accepted: list[AcceptedImport | None] = []
    errors: list[tuple[int, str]] = []
    for index, item in enumerate(parsed):
        raw = item.raw
        if item.local_key:  # a local:// key of this deployment's store (our own exports)
            try:
                raw = RawItem(**{**raw.__dict__, "data": await store.get(item.local_key)})
            except (ObjectNotFound, ValueError):
                errors.append((index, f"{raw.origin}media local://{item.local_key} not found"))
        if item.predictions:
            raw = RawItem(**{**raw.__dict__, "predictions_json": json.dumps(item.predictions, ensure_ascii=False)})
        entries.append(raw)
        annotation = item.annotation
        accepted.append(None if annotation is None else
                        AcceptedImport(result=annotation.result, annotators=annotation.annotators,
                                       source=annotation.source))
    if errors:
        return ImportResult(errors=errors)
    return await import_items(pool, store, project_id, entries, limits, accepted)
