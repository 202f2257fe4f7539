"""``annotary.ingest.v1.IngestService``: item batches and sources in."""

from __future__ import annotations

from typing import Any

import asyncpg
import grpc

from annotary.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from annotary_common.grpc_util import handles_errors
from annotary_common.storage import ObjectStore
from annotary_ingest.domain.foreign import InFile
from annotary_ingest.domain.items import RawItem
from annotary_ingest.service_layer.foreign import import_foreign
from annotary_ingest.service_layer.importing import ImportLimits, ImportResult, import_items
from annotary_ingest.service_layer.sources import import_source
from annotary_ingest.service_layer.sync import sync_source

SERVICE_NAME = "annotary.ingest.v1.IngestService"
Context = grpc.aio.ServicerContext[Any, Any]


def raw_item(message: ingest_pb2.ItemInput) -> RawItem:
    return RawItem(
        external_id=message.external_id, text=message.text, media_uri=message.media_uri, data=message.data,
        filename=message.filename, meta_json=message.meta_json, predictions_json=message.predictions_json,
        gold_json=message.gold_json, modality=message.modality,
    )


def to_response(result: ImportResult) -> ingest_pb2.ImportItemsResponse:
    return ingest_pb2.ImportItemsResponse(
        created=result.created, duplicates=result.duplicates, item_ids=result.item_ids,
        errors=[ingest_pb2.ItemError(index=index, message=message) for index, message in result.errors],
        annotations=result.annotations, predictions=result.predictions, unchanged=result.unchanged,
        keys_synced=result.keys_synced,
    )


class IngestServicer(ingest_pb2_grpc.IngestServiceServicer):
    def __init__(self, pool: asyncpg.Pool, store: ObjectStore, limits: ImportLimits) -> None:
        self._pool = pool
        self._store = store
        self._limits = limits

    @handles_errors
    async def ImportItems(self, request: ingest_pb2.ImportItemsRequest,
                          context: Context) -> ingest_pb2.ImportItemsResponse:
        items = [raw_item(message) for message in request.items]
        return to_response(await import_items(self._pool, self._store, request.project_id, items, self._limits))

    @handles_errors
    async def ImportSource(self, request: ingest_pb2.ImportSourceRequest,
                           context: Context) -> ingest_pb2.ImportItemsResponse:
        return to_response(await import_source(self._pool, self._store, request.project_id, request.uri, self._limits))

    @handles_errors
    async def ImportForeign(self, request: ingest_pb2.ImportForeignRequest,
                            context: Context) -> ingest_pb2.ImportItemsResponse:
        files = [InFile(f.filename, f.data) for f in request.files]
        return to_response(await import_foreign(self._pool, self._store, request.project_id, request.format, files,
                                                self._limits))

    @handles_errors
    async def SyncSource(self, request: ingest_pb2.ImportSourceRequest,
                         context: Context) -> ingest_pb2.ImportItemsResponse:
        return to_response(await sync_source(self._pool, self._store, request.project_id, request.uri, self._limits))
