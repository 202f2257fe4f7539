"""Every Annotary service as its own process, wired together on one machine.

Used by ``annotary up`` and by the integration tests (which kill and restart services).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from annotary_cli.infra import Managed, free_port

SERVICES = ("orchestrator", "qa", "ingest", "export", "preannotate", "annotation-api")
GRPC_SERVICES = ("orchestrator", "qa", "ingest", "export", "preannotate")


def package_of(service: str) -> str:
    return "annotary_" + service.replace("-", "_")


def env_prefix(service: str) -> str:
    return "ANNOTARY_" + service.replace("-", "_").upper() + "_"


@dataclass
class StackConfig:
    database_url: str
    kafka_bootstrap: str
    data_dir: Path
    log_dir: Path
    api_port: int = 8080
    admin_token: str = ""
    object_store: str = "local"
    s3_endpoint_url: str | None = None
    s3_bucket: str = "annotary"
    import_roots: list[Path] = field(default_factory=list)
    fast_rebalance: bool = True
    extra_env: dict[str, str] = field(default_factory=dict)


class Stack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.grpc_ports = {name: free_port() for name in GRPC_SERVICES}
        self.http_ports = {name: free_port() for name in SERVICES if name != "annotation-api"}
        self.http_ports["annotation-api"] = config.api_port
        self.procs: dict[str, Managed] = {}

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.config.api_port}"

    def env_for(self, service: str, instance: str | None = None) -> dict[str, str]:
        """The environment of one process of ``service`` (``instance`` names a replica's own ports)."""
        instance = instance or service
        c = self.config
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANNOTARY_")}
        env.update(
            {
                "ANNOTARY_DATABASE_URL": c.database_url,
                "ANNOTARY_KAFKA_BOOTSTRAP": c.kafka_bootstrap,
                "ANNOTARY_KAFKA_FAST_REBALANCE": "true" if c.fast_rebalance else "false",
                "ANNOTARY_OBJECT_STORE": c.object_store,
                "ANNOTARY_DATA_DIR": str(c.data_dir),
                "ANNOTARY_S3_BUCKET": c.s3_bucket,
                "ANNOTARY_IMPORT_ROOTS": os.pathsep.join(str(p) for p in c.import_roots),
                "PYTHONUNBUFFERED": "1",
            }
        )
        if c.s3_endpoint_url:
            env.update(
                {
                    "ANNOTARY_S3_ENDPOINT_URL": c.s3_endpoint_url,
                    "ANNOTARY_S3_ACCESS_KEY_ID": "annotary",
                    "ANNOTARY_S3_SECRET_ACCESS_KEY": "annotary-secret",
                }
            )
        for name in GRPC_SERVICES:
            env[f"ANNOTARY_{name.upper()}_ADDR"] = f"127.0.0.1:{self.grpc_ports[name]}"
        prefix = env_prefix(service)
        if service in GRPC_SERVICES:
            env[prefix + "GRPC_PORT"] = str(self.grpc_ports[instance])
            env[prefix + "HTTP_PORT"] = str(self.http_ports[instance])
        else:
            env[prefix + "PORT"] = str(self.http_ports[instance])
            if c.admin_token:
                env["ANNOTARY_ADMIN_TOKEN"] = c.admin_token
        env.update(c.extra_env)
        return env

    def start(self, name: str) -> Managed:
        """Start the process ``name``: a service, or a replica such as ``orchestrator#2``."""
        old = self.procs.get(name)
        if old is not None and old.alive:
            raise RuntimeError(f"{name} is running already")
        service, _, n = name.partition("#")
        proc = Managed(
            name,
            [sys.executable, "-m", package_of(service)],
            self.env_for(service, name),
            self.config.log_dir / (f"{service}-{n}.log" if n else f"{service}.log"),
        ).start()
        self.procs[name] = proc
        return proc

    def add_replica(self, service: str) -> str:
        """Start one more process of ``service`` (same database, same consumer group, its own ports);
        returns the replica's name, e.g. ``orchestrator#2``."""
        n = sum(1 for name in self.procs if name.partition("#")[0] == service) + 1
        name = f"{service}#{n}"
        self.http_ports[name] = free_port()
        if service in GRPC_SERVICES:
            self.grpc_ports[name] = free_port()
        self.start(name)
        return name

    def start_all(self) -> None:
        for service in SERVICES:
            self.start(service)

    def readyz_url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.http_ports[service]}/readyz"

    def wait_ready(self, services: tuple[str, ...] | list[str] = SERVICES, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        pending = list(services)
        with httpx.Client(timeout=2.0) as client:
            while pending:
                service = pending[0]
                proc = self.procs[service]
                if not proc.alive:
                    raise RuntimeError(
                        f"{service} exited with {proc.proc.returncode if proc.proc else None}:\n{proc.tail()}"
                    )
                try:
                    if client.get(self.readyz_url(service)).status_code == 200:
                        pending.pop(0)
                        continue
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{service} not ready after {timeout}s:\n{proc.tail()}")
                time.sleep(0.1)

    def kill(self, service: str) -> None:
        self.procs[service].kill()

    def restart(self, service: str) -> None:
        self.procs[service].stop()
        self.start(service)

    def stop_all(self) -> dict[str, int | None]:
        """Stop every process, replicas included: the gateway first, then the services behind it."""
        order = sorted(self.procs, key=lambda name: SERVICES[::-1].index(name.partition("#")[0]))
        return {name: self.procs[name].stop() for name in order}
