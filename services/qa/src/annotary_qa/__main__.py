"""``python -m annotary_qa``: the qa service process."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc

from annotary.qa.v1 import qa_pb2_grpc
from annotary_common.runtime import ServiceRuntime
from annotary_qa.entrypoints import bus, dashboards_grpc
from annotary_qa.entrypoints.grpc_api import SERVICE_NAME, QaServicer
from annotary_qa.settings import QaSettings


async def main() -> int:
    settings = QaSettings()
    rt = ServiceRuntime("qa", settings.common)

    async def setup() -> Any:
        pool = await rt.open_database("annotary_qa")
        await rt.open_producer()
        rt.start_relay()
        bus.subscribe(rt.consumer(), min_gold_for_pause=settings.min_gold_for_pause)
        await rt.start_broker()

        def register(server: grpc.aio.Server) -> None:
            qa_pb2_grpc.add_QaServiceServicer_to_server(QaServicer(pool), server)
            dashboards_grpc.register(pool, server)

        await rt.start_grpc(settings.grpc_port, register, [SERVICE_NAME])

    return await rt.run(setup, settings.http_port)


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
