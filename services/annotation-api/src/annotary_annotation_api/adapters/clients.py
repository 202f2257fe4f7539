"""gRPC clients for the services behind the gateway, with a deadline on every call."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from annotary.export.v1 import export_pb2_grpc
from annotary.ingest.v1 import ingest_pb2_grpc
from annotary.orchestrator.v1 import orchestrator_pb2_grpc
from annotary.preannotate.v1 import preannotate_pb2_grpc
from annotary.qa.v1 import qa_pb2_grpc
from annotary_common.grpc_util import open_channel
from annotary_common.settings import CommonSettings


@dataclass
class Clients:
    orchestrator: orchestrator_pb2_grpc.OrchestratorServiceAsyncStub
    qa: qa_pb2_grpc.QaServiceAsyncStub
    ingest: ingest_pb2_grpc.IngestServiceAsyncStub
    export: export_pb2_grpc.ExportServiceAsyncStub
    preannotate: preannotate_pb2_grpc.PreannotateServiceAsyncStub
    timeout_s: float
    channels: dict[str, grpc.aio.Channel] = field(default_factory=dict)

    @classmethod
    def open(cls, settings: CommonSettings) -> Clients:
        channels = {
            "orchestrator": open_channel(settings.orchestrator_addr),
            "qa": open_channel(settings.qa_addr),
            "ingest": open_channel(settings.ingest_addr),
            "export": open_channel(settings.export_addr),
            "preannotate": open_channel(settings.preannotate_addr),
        }
        return cls(
            orchestrator=orchestrator_pb2_grpc.OrchestratorServiceStub(channels["orchestrator"]),
            qa=qa_pb2_grpc.QaServiceStub(channels["qa"]),
            ingest=ingest_pb2_grpc.IngestServiceStub(channels["ingest"]),
            export=export_pb2_grpc.ExportServiceStub(channels["export"]),
            preannotate=preannotate_pb2_grpc.PreannotateServiceStub(channels["preannotate"]),
            timeout_s=settings.grpc_timeout_s,
            channels=channels,
        )

    async def health(self) -> dict[str, str]:
        """The grpc.health.v1 status of every service behind the gateway."""

        async def check(name: str, channel: grpc.aio.Channel) -> tuple[str, str]:
            try:
                reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2.0)
                status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
                return name, "ok" if status == "SERVING" else status.lower()
            except grpc.aio.AioRpcError as exc:
                return name, f"failed: {exc.code().name}"

        results = await asyncio.gather(*(check(n, c) for n, c in self.channels.items()))
        return dict(results)

    async def close(self) -> None:
        await asyncio.gather(*(c.close(None) for c in self.channels.values()))
