"""``annotary.export.v1.ExportService``: create and read exports."""

from __future__ import annotations

from typing import Any

import asyncpg
import grpc

from annotary.export.v1 import export_pb2, export_pb2_grpc
from annotary_common.grpc_util import handles_errors
from annotary_export.service_layer.exports import ExportRecord, ExportRunner, create_export, get_export

SERVICE_NAME = "annotary.export.v1.ExportService"
Context = grpc.aio.ServicerContext[Any, Any]


def to_message(record: ExportRecord) -> export_pb2.Export:
    message = export_pb2.Export(
        export_id=record.export_id, project_id=record.project_id, format=record.format, status=record.status,
        item_count=record.item_count, annotation_count=record.annotation_count, object_key=record.object_key,
        error=record.error, file_name=record.file_name,
    )
    message.created_at.FromDatetime(record.created_at)
    return message


class ExportServicer(export_pb2_grpc.ExportServiceServicer):
    def __init__(self, pool: asyncpg.Pool, runner: ExportRunner) -> None:
        self._pool = pool
        self._runner = runner

    @handles_errors
    async def CreateExport(self, request: export_pb2.CreateExportRequest, context: Context) -> export_pb2.Export:
        record = await create_export(self._pool, request.project_id, request.format, request.schema_json,
                                     request.project_name)
        self._runner.start(record.export_id)
        return to_message(record)

    @handles_errors
    async def GetExport(self, request: export_pb2.GetExportRequest, context: Context) -> export_pb2.Export:
        return to_message(await get_export(self._pool, request.export_id))
