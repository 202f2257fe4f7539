"""``python -m annotary_ingest``: the ingest service process."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc

from annotary.ingest.v1 import ingest_pb2_grpc
from annotary_common.runtime import ServiceRuntime
from annotary_ingest.entrypoints.grpc_api import SERVICE_NAME, IngestServicer
from annotary_ingest.service_layer.importing import ImportLimits
from annotary_ingest.service_layer.schedules import run_scheduler
from annotary_ingest.settings import IngestSettings


async def main() -> int:
    settings = IngestSettings()
    rt = ServiceRuntime("ingest", settings.common)

    async def setup() -> Any:
        pool = await rt.open_database("annotary_ingest")
        store = await rt.open_object_store()
        await rt.open_producer()
        rt.start_relay()
        limits = ImportLimits(fetch_concurrency=settings.fetch_concurrency, max_bytes=settings.max_import_bytes)
        rt.background(run_scheduler(pool, store, limits, settings.schedule_poll_s), "sync-scheduler")

        def register(server: grpc.aio.Server) -> None:
            ingest_pb2_grpc.add_IngestServiceServicer_to_server(IngestServicer(pool, store, limits), server)

        await rt.start_grpc(settings.grpc_port, register, [SERVICE_NAME])

    return await rt.run(setup, settings.http_port)


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
