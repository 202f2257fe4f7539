"""``python -m annotary_orchestrator``: Postgres, the outbox relay, the bus consumers, the gRPC API and the lease
reaper."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc

from annotary.orchestrator.v1.orchestrator_pb2_grpc import add_OrchestratorServiceServicer_to_server
from annotary_common.runtime import ServiceRuntime
from annotary_orchestrator.entrypoints import bus, dashboards_grpc
from annotary_orchestrator.entrypoints.grpc_api import SERVICE_NAME, OrchestratorServicer
from annotary_orchestrator.service_layer.metrics import queue_depth_refresher
from annotary_orchestrator.service_layer.reaper import run_reaper
from annotary_orchestrator.settings import OrchestratorSettings


async def main() -> int:
    settings = OrchestratorSettings()
    rt = ServiceRuntime("orchestrator", settings.common)

    async def setup() -> Any:
        pool = await rt.open_database("annotary_orchestrator")
        await rt.open_producer()
        rt.start_relay()
        bus.subscribe(rt.consumer())
        await rt.start_broker()

        def register(server: grpc.aio.Server) -> None:
            add_OrchestratorServiceServicer_to_server(OrchestratorServicer(pool), server)
            dashboards_grpc.register(pool, server)

        await rt.start_grpc(settings.grpc_port, register, [SERVICE_NAME])
        rt.background(run_reaper(pool, settings.reaper_interval_s), "lease-reaper")
        rt.metrics.add("queue_depth", queue_depth_refresher(pool))

    return await rt.run(setup, settings.http_port)


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
