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
from annotary_ingest.service_layer.schedules import SyncSchedule, clear_schedule, list_schedules, set_schedule
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


def schedule_message(s: SyncSchedule) -> ingest_pb2.SyncSchedule:
    return ingest_pb2.SyncSchedule(
        project_id=s.project_id, uri=s.uri, interval_s=s.interval_s, next_run_at=s.next_run_at.isoformat(),
        last_run_at=s.last_run_at.isoformat() if s.last_run_at else "", last_status=s.last_status,
        last_error=s.last_error, last_keys_synced=s.last_keys_synced, last_created=s.last_created, runs=s.runs)


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

    @handles_errors
    async def SetSyncSchedule(self, request: ingest_pb2.SetSyncScheduleRequest,
                              context: Context) -> ingest_pb2.SyncSchedule:
        return schedule_message(await set_schedule(self._pool, self._store, request.project_id, request.uri,
                                                   request.interval_s))

    @handles_errors
    async def ClearSyncSchedule(self, request: ingest_pb2.ImportSourceRequest,
                                context: Context) -> ingest_pb2.SyncSchedule:
        return schedule_message(await clear_schedule(self._pool, request.project_id, request.uri))

    @handles_errors
    async def ListSyncSchedules(self, request: ingest_pb2.ListSyncSchedulesRequest,
                                context: Context) -> ingest_pb2.ListSyncSchedulesResponse:
        schedules = await list_schedules(self._pool, request.project_id)
        return ingest_pb2.ListSyncSchedulesResponse(schedules=[schedule_message(s) for s in schedules])
