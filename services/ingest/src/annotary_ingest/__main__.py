"""``python -m annotary_ingest``: the ingest service process."""

from __future__ import annotations

import asyncio

import grpc

from annotary.ingest.v1 import ingest_pb2_grpc
from annotary_common.runtime import ReadinessCheck, ServiceRuntime
from annotary_common.storage import LocalObjectStore, ObjectStore, open_object_store
from annotary_ingest.entrypoints.grpc_api import SERVICE_NAME, IngestServicer
from annotary_ingest.service_layer.importing import ImportLimits
from annotary_ingest.settings import IngestSettings


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
    settings = IngestSettings()
    rt = ServiceRuntime("ingest", settings.common)
    try:
        pool = await rt.open_database("annotary_ingest")
        store = await rt.stack.enter_async_context(open_object_store(settings.common))
        rt.checks["object_store"] = store_check(store)
        await rt.open_producer()
        rt.start_relay()
        limits = ImportLimits(fetch_concurrency=settings.fetch_concurrency, max_bytes=settings.max_import_bytes)

        def register(server: grpc.aio.Server) -> None:
            ingest_pb2_grpc.add_IngestServiceServicer_to_server(IngestServicer(pool, store, limits), server)

        await rt.start_grpc(settings.grpc_port, register, [SERVICE_NAME])
    except BaseException:
        await rt.stack.aclose()
        raise
    return await rt.serve(settings.http_port)


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
