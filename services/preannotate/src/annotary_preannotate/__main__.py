"""``python -m annotary_preannotate``: the preannotate service process."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any

import grpc

from annotary.preannotate.v1 import preannotate_pb2_grpc
from annotary_common.runtime import ServiceRuntime
from annotary_preannotate.entrypoints import bus
from annotary_preannotate.entrypoints.grpc_api import PreannotateServicer
from annotary_preannotate.service_layer.flywheel import FlywheelConfig
from annotary_preannotate.service_layer.worker import Worker, WorkerConfig
from annotary_preannotate.settings import PreannotateSettings


async def main(settings: PreannotateSettings) -> int:
    rt = ServiceRuntime("preannotate", settings.common)

    async def setup() -> Any:
        pool = await rt.open_database("annotary_preannotate")
        store = await rt.open_object_store()
        await rt.open_producer()
        rt.start_relay()
        worker = Worker(
            pool,
            store,
            WorkerConfig(
                sampling=settings.sampling,
                selection=settings.selection,
                selection_size=settings.selection_size,
                predict_batch=settings.predict_batch,
                poll_interval_s=settings.poll_interval_s,
                model_prefix=settings.model_prefix,
                device=settings.device,
                ner_base=settings.ner_base,
                ner_epochs=settings.ner_epochs,
                ner_learning_rate=settings.ner_learning_rate,
                torch_threads=settings.torch_threads,
                image_epochs=settings.image_epochs,
                box_epochs=settings.box_epochs,
                rescore_window=settings.rescore_window,
            ),
        )
        bus.subscribe(rt.consumer(), FlywheelConfig(settings.retrain_every, settings.holdout_fraction))
        await rt.start_broker()

        def register(server: grpc.aio.Server) -> None:
            preannotate_pb2_grpc.add_PreannotateServiceServicer_to_server(PreannotateServicer(pool, worker), server)

        await rt.start_grpc(settings.grpc_port, register, ["annotary.preannotate.v1.PreannotateService"])
        rt.background(worker.run(), "preannotate-worker")

    return await rt.run(setup, settings.http_port)


def lower_priority(nice: int) -> None:
    """Before any thread starts (threads inherit it): the scheduler gives this process's cores to others first.

    Where the kernel groups processes by session (autogroup, on by default on most distributions), a nice value only
    ranks the threads of one session against each other, and each session gets an equal share of the cores: so a
    process that leads its own session (as the stack starts every service) lowers its session's priority too.
    Another session's priority (a shell that started this process) is left alone.
    """
    if nice <= 0:
        return
    os.nice(nice)
    autogroup = Path("/proc/self/autogroup")
    if os.getsid(0) != os.getpid() or not autogroup.exists():
        return
    try:  # "/autogroup-123 nice 0"; empty where the session is the kernel's first one (init's, which has no group)
        fields = autogroup.read_text().split()
        if not fields:
            return
        autogroup.write_text(str(min(19, int(fields[-1]) + nice)))
    except (OSError, ValueError) as exc:
        logging.getLogger(__name__).warning("cannot lower the session's CPU priority", extra={"error": repr(exc)})


if __name__ == "__main__":
    _settings = PreannotateSettings()
    lower_priority(_settings.nice)
    raise SystemExit(asyncio.run(main(_settings)))
