"""``annotary.export.v1.ExportService``: exports (dataset versions) and webhooks."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import grpc

from annotary.export.v1 import export_pb2, export_pb2_grpc
from annotary_common.grpc_util import handles_errors
from annotary_export.service_layer import webhooks
from annotary_export.service_layer.exports import (
    ExportRecord,
    ExportRunner,
    create_export,
    get_export,
    list_versions,
)

SERVICE_NAME = "annotary.export.v1.ExportService"
Context = grpc.aio.ServicerContext[Any, Any]


def to_message(record: ExportRecord) -> export_pb2.Export:
    message = export_pb2.Export(
        export_id=record.export_id, project_id=record.project_id, format=record.format, status=record.status,
        item_count=record.item_count, annotation_count=record.annotation_count, object_key=record.object_key,
        error=record.error, file_name=record.file_name, version=record.version,
        base_export_id=record.base_export_id, parent_export_id=record.parent_export_id,
        items_total=record.items_total, items_done=record.items_done, manifest_key=record.manifest_key,
        byte_size=record.byte_size,
    )
    message.created_at.FromDatetime(record.created_at)
    if record.finished_at is not None:
        message.finished_at.FromDatetime(record.finished_at)
    return message


def webhook_message(hook: webhooks.Webhook) -> export_pb2.Webhook:
    message = export_pb2.Webhook(webhook_id=hook.webhook_id, project_id=hook.project_id, url=hook.url,
                                 event_types=hook.event_types, secret=hook.secret)
    message.created_at.FromDatetime(hook.created_at)
    return message


class ExportServicer(export_pb2_grpc.ExportServiceServicer):
    def __init__(self, pool: asyncpg.Pool, runner: ExportRunner) -> None:
        self._pool = pool
        self._runner = runner

    @handles_errors
    async def CreateExport(self, request: export_pb2.CreateExportRequest, context: Context) -> export_pb2.Export:
        record = await create_export(self._pool, request.project_id, request.format, request.schema_json,
                                     request.project_name, request.since_export_id)
        self._runner.start(record.export_id)
        return to_message(record)

    @handles_errors
    async def GetExport(self, request: export_pb2.GetExportRequest, context: Context) -> export_pb2.Export:
        return to_message(await get_export(self._pool, request.export_id))

    @handles_errors
    async def ListVersions(self, request: export_pb2.ListVersionsRequest,
                           context: Context) -> export_pb2.ListVersionsResponse:
        records = await list_versions(self._pool, request.project_id)
        return export_pb2.ListVersionsResponse(exports=[to_message(r) for r in records])

    @handles_errors
    async def CreateWebhook(self, request: export_pb2.CreateWebhookRequest, context: Context) -> export_pb2.Webhook:
        hook = await webhooks.create_webhook(self._pool, request.project_id, request.url, list(request.event_types),
                                             request.secret)
        return webhook_message(hook)

    @handles_errors
    async def ListWebhooks(self, request: export_pb2.ListWebhooksRequest,
                           context: Context) -> export_pb2.ListWebhooksResponse:
        hooks = await webhooks.list_webhooks(self._pool, request.project_id)
        return export_pb2.ListWebhooksResponse(webhooks=[webhook_message(h) for h in hooks])

    @handles_errors
    async def DeleteWebhook(self, request: export_pb2.DeleteWebhookRequest,
                            context: Context) -> export_pb2.DeleteWebhookResponse:
        await webhooks.delete_webhook(self._pool, request.webhook_id)
        return export_pb2.DeleteWebhookResponse()

    @handles_errors
    async def ListDeliveries(self, request: export_pb2.ListDeliveriesRequest,
                             context: Context) -> export_pb2.ListDeliveriesResponse:
        rows = await webhooks.list_deliveries(self._pool, request.webhook_id, request.limit or 100)
        return export_pb2.ListDeliveriesResponse(deliveries=[
            export_pb2.Delivery(delivery_id=r["delivery_id"], event_id=r["event_id"], event_type=r["event_type"],
                                status=r["status"], attempts=r["attempts"], last_status_code=r["last_status_code"] or 0,
                                last_error=r["last_error"], created_at=r["created_at"],
                                delivered_at=r["delivered_at"] or "", log_json=json.dumps(r["log"], default=str))
            for r in rows])
