"""Annotary under test: a fresh database on the machine's Postgres, Tansu and every service as its own process
(the launcher the integration tests use), and the REST calls that set a project up."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from annotary_cli.infra import Managed, drop_database, ensure_database, free_port, start_broker
from annotary_cli.stack import Stack, StackConfig
from bench.stats import log


@dataclass
class Running:
    stack: Stack
    database_url: str
    admin_token: str
    log_dir: Path
    broker: Managed

    @property
    def api(self) -> str:
        return f"{self.stack.api_url}/api/v1"

    def pids(self) -> dict[str, int]:
        """Every process of the stack by name (the broker as ``kafka``)."""
        procs = {**self.stack.procs, "kafka": self.broker}
        return {name: p.proc.pid for name, p in procs.items() if p.proc is not None}

    @property
    def orchestrator_addr(self) -> str:
        return f"127.0.0.1:{self.stack.grpc_ports['orchestrator']}"


@contextlib.contextmanager
def annotary_stack(pg_server: str, keep_logs_in: Path | None) -> Iterator[Running]:
    """Start everything; on the way out stop every process it started and drop the database.

    The service logs are copied to ``keep_logs_in`` when the block raises (and when it is given anyway).
    """
    base = Path(tempfile.mkdtemp(prefix="annotary-bench-"))
    log_dir = base / "logs"
    database_url = f"{pg_server}/annotary_bench_{uuid.uuid4().hex[:10]}"
    ensure_database(database_url)
    broker: Managed | None = None
    stack: Stack | None = None
    failed = False
    try:
        broker, bootstrap = start_broker(log_dir)
        token = secrets.token_urlsafe(24)
        stack = Stack(
            StackConfig(
                database_url=database_url,
                kafka_bootstrap=bootstrap,
                data_dir=base / "data",
                log_dir=log_dir,
                api_port=free_port(),
                admin_token=token,
                object_store="local",
            )
        )
        started = time.monotonic()
        stack.start_all()
        stack.wait_ready(timeout=120.0)
        log.info("annotary stack ready in %.1fs (database %s)", time.monotonic() - started, database_url)
        yield Running(stack=stack, database_url=database_url, admin_token=token, log_dir=log_dir, broker=broker)
    except BaseException:
        failed = True
        raise
    finally:
        if stack is not None:
            stack.stop_all()
        if broker is not None:
            broker.stop()
        with contextlib.suppress(Exception):
            drop_database(database_url)
        if keep_logs_in is not None and (failed or keep_logs_in.exists()) and log_dir.exists():
            shutil.copytree(log_dir, keep_logs_in, dirs_exist_ok=True)
            log.info("service logs kept in %s", keep_logs_in)
        shutil.rmtree(base, ignore_errors=True)


class Admin:
    """The REST calls the set-up needs, as the admin."""

    def __init__(self, api: str, token: str) -> None:
        self.http = httpx.AsyncClient(base_url=api, headers={"Authorization": f"Bearer {token}"}, timeout=300.0)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _post(self, path: str, **kw: Any) -> Any:
        reply = await self.http.post(path, **kw)
        if reply.status_code >= 300:
            raise RuntimeError(f"POST {path}: {reply.status_code} {reply.text[:500]}")
        return reply.json()

    async def create_users(self, count: int, role: str = "annotator", prefix: str = "bench") -> list[tuple[str, str]]:
        """(user id, token) of ``count`` new users."""
        gate = asyncio.Semaphore(8)

        async def one(i: int) -> tuple[str, str]:
            async with gate:
                user = await self._post("/users", json={"username": f"{prefix}-{role}-{i}", "role": role})
                return str(user["id"]), str(user["token"])

        return list(await asyncio.gather(*(one(i) for i in range(count))))

    async def create_project(self, name: str, schema: dict[str, Any], policy: dict[str, Any]) -> str:
        project = await self._post("/projects", json={"name": name, "schema": schema, "policy": policy})
        return str(project["id"])

    async def import_items(self, project_id: str, items: list[dict[str, Any]]) -> int:
        reply = await self._post(f"/projects/{project_id}/items", json=items)
        return int(reply["created"])

    async def queued(self, project_id: str) -> int:
        """How many items the orchestrator holds for the project (any state), as GET /stats reports them."""
        reply = await self.http.get(f"/projects/{project_id}/stats")
        reply.raise_for_status()
        return sum(int(n) for n in reply.json()["states"].values())

    async def wait_queued(self, project_id: str, expected: int, timeout_s: float) -> float:
        """Poll until the orchestrator holds ``expected`` items; returns when (monotonic) it saw them."""
        deadline = time.monotonic() + timeout_s
        while True:
            have = await self.queued(project_id)
            if have >= expected:
                return time.monotonic()
            if time.monotonic() > deadline:
                raise TimeoutError(f"the orchestrator holds {have} of {expected} items after {timeout_s}s")
            await asyncio.sleep(0.1)
