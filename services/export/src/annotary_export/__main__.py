"""``python -m annotary_export``: the export service process."""

from __future__ import annotations

import asyncio

import grpc

from annotary.export.v1 import export_pb2_grpc
from annotary_common import topics
from annotary_common.runtime import ReadinessCheck, ServiceRuntime
from annotary_common.storage import LocalObjectStore, ObjectStore, open_object_store
from annotary_export.entrypoints.grpc_api import SERVICE_NAME, ExportServicer
from annotary_export.service_layer.accepted import on_annotation_accepted
from annotary_export.service_layer.exports import ExportRunner
from annotary_export.service_layer.webhooks import DeliveryPolicy, run_deliverer
from annotary_export.settings import ExportSettings


def store_check(store: ObjectStore) -> ReadinessCheck:
    """Readiness of the object store: the local folder exists, or the bucket answers a listing."""

    async def check() -> None:
        if isinstance(store, LocalObjectStore):
            if not store.root.is_dir():
                raise RuntimeError(f"{store.root} is not a folder")
        else:
            await asyncio.wait_for(store.list_keys("readyz/"), 2.0)

    return check


async def main() -> int:
    settings = ExportSettings()
    rt = ServiceRuntime("export", settings.common)
    try:
        pool = await rt.open_database("annotary_export")
        store = await rt.stack.enter_async_context(open_object_store(settings.common))
        rt.checks["object_store"] = store_check(store)
        await rt.open_producer()
        rt.start_relay()  # export.completed through the outbox
        consumer = rt.consumer()
        consumer.subscribe(topics.ANNOTATION_ACCEPTED, on_annotation_accepted)
        await rt.start_broker()
        runner = ExportRunner(pool, store, settings.max_concurrent_builds)
        rt.stack.push_async_callback(runner.close)  # builds stop before the pool and the store close
        rt.background(runner.sweep(settings.resume_interval_s), "export-sweep")
        policy = DeliveryPolicy(timeout_s=settings.webhook_timeout_s, max_attempts=settings.webhook_max_attempts,
                                backoff_base_s=settings.webhook_backoff_base_s,
                                backoff_max_s=settings.webhook_backoff_max_s)
        rt.background(run_deliverer(pool, policy, settings.webhook_poll_s), "webhook-deliverer")

        def register(server: grpc.aio.Server) -> None:
            export_pb2_grpc.add_ExportServiceServicer_to_server(ExportServicer(pool, runner), server)

        await rt.start_grpc(settings.grpc_port, register, [SERVICE_NAME])
    except BaseException:
        await rt.stack.aclose()
        raise
    return await rt.serve(settings.http_port)


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
