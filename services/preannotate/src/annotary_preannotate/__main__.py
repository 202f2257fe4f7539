"""``python -m annotary_preannotate``: the preannotate service process."""

from __future__ import annotations

import asyncio

import grpc

from annotary_common.runtime import ServiceRuntime
from annotary_preannotate.entrypoints import bus
from annotary_preannotate.settings import PreannotateSettings


def _no_services_yet(_server: grpc.aio.Server) -> None:
    """Only grpc.health.v1 for now; the predict-on-demand service arrives with the model plugins."""


async def main() -> int:
    settings = PreannotateSettings()
    rt = ServiceRuntime("preannotate", settings.common)
    try:
        await rt.open_database("annotary_preannotate")
        await rt.open_producer()
        rt.start_relay()
        bus.subscribe(rt.consumer())
        await rt.start_broker()
        await rt.start_grpc(settings.grpc_port, _no_services_yet, [])
    except BaseException:
        await rt.stack.aclose()
        raise
    return await rt.serve(settings.http_port)


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
