"""``python -m annotary_export``: the export service process."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc

from annotary.export.v1 import export_pb2_grpc
from annotary_common import topics
from annotary_common.bus import one_by_one
from annotary_common.runtime import ServiceRuntime
from annotary_export.entrypoints.grpc_api import SERVICE_NAME, ExportServicer
from annotary_export.service_layer import notify
from annotary_export.service_layer.accepted import on_annotation_accepted
from annotary_export.service_layer.exports import ExportRunner
from annotary_export.service_layer.webhooks import DeliveryPolicy, run_deliverer
from annotary_export.settings import ExportSettings


async def main() -> int:
    settings = ExportSettings()
    rt = ServiceRuntime("export", settings.common)

    async def setup() -> Any:
        pool = await rt.open_database("annotary_export")
        store = await rt.open_object_store()
        await rt.open_producer()
        rt.start_relay()  # export.completed through the outbox
        consumer = rt.consumer()
        # in runs, one transaction per run when events queue up (an upsert of the item's row and its deliveries)
        consumer.subscribe(topics.ANNOTATION_ACCEPTED, on_annotation_accepted, batch=one_by_one(on_annotation_accepted))
        for topic, handler in notify.HANDLERS.items():  # webhooks for these events
            consumer.subscribe(topic, handler)
        await rt.start_broker()
        runner = ExportRunner(pool, store, settings.max_concurrent_builds)
        rt.stack.push_async_callback(runner.close)  # builds stop before the pool and the store close
        rt.background(runner.sweep(settings.resume_interval_s), "export-sweep")
        policy = DeliveryPolicy(
            timeout_s=settings.webhook_timeout_s,
            max_attempts=settings.webhook_max_attempts,
            backoff_base_s=settings.webhook_backoff_base_s,
            backoff_max_s=settings.webhook_backoff_max_s,
        )
        rt.background(run_deliverer(pool, policy, settings.webhook_poll_s), "webhook-deliverer")

        def register(server: grpc.aio.Server) -> None:
            export_pb2_grpc.add_ExportServiceServicer_to_server(ExportServicer(pool, runner), server)

        await rt.start_grpc(settings.grpc_port, register, [SERVICE_NAME])

    return await rt.run(setup, settings.http_port)


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
