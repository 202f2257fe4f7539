"""Label Studio as the peer (workload b): its own virtual environment, started headless on 127.0.0.1 as
/work/shared/peers/label-studio/README.md describes, spoken to only over HTTP.

By default every request opens a new connection: on a reused connection Django's runserver adds ~40-50 ms to
each request (Nagle on the server vs the client's delayed ACK), which would flatter us. ``probe`` in the output
shows both.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from annotary_cli.infra import Managed, drop_database, ensure_database, free_port
from bench.cpu import CpuMeter, measured
from bench.stats import log, summary
from bench.texts import LS_LABEL_CONFIG, ls_result

VERSION = "1.23.2"
CACHE = Path(os.environ.get("ANNOTARY_BENCH_CACHE", Path.home() / ".cache" / "annotary-bench")) / "label-studio"
USER = "bench@example.com"
PASSWORD = "benchpass123"
TOKEN = "0123456789abcdef0123456789abcdef01234567"
TIMEOUT_S = 900.0


def ensure_installed() -> Path:
    """The venv's ``label-studio`` script, installing label-studio==VERSION into CACHE/venv when missing."""
    venv = CACHE / "venv"
    script = venv / "bin" / "label-studio"
    python = venv / "bin" / "python"
    if script.exists():
        probe = subprocess.run([str(python), "-c", "import importlib.metadata as m; print(m.version('label-studio'))"],
                               capture_output=True, text=True, timeout=60)
        if probe.stdout.strip() == VERSION:
            return script
        log.info("label-studio %s in %s, want %s: reinstalling", probe.stdout.strip() or "?", venv, VERSION)
    CACHE.mkdir(parents=True, exist_ok=True)
    base = shutil.which("python3") or sys.executable
    log.info("installing label-studio==%s into %s (a few minutes, once)", VERSION, venv)
    with open(CACHE / "install.log", "wb") as out:
        if not python.exists():
            subprocess.run([base, "-m", "venv", str(venv)], check=True, stdout=out, stderr=subprocess.STDOUT)
        subprocess.run([str(python), "-m", "pip", "install", "-q", f"label-studio=={VERSION}"], check=True,
                       stdout=out, stderr=subprocess.STDOUT, timeout=1800)
    return script


@dataclass
class LabelStudio:
    url: str
    database: str  # "sqlite" or "postgres"
    pid: int
    pg_database: str | None  # its database on the shared Postgres, when on Postgres

    def meter(self) -> CpuMeter:
        # On SQLite no Postgres backend works for it: name a database that has none.
        return CpuMeter(pids={"label-studio": self.pid}, database=self.pg_database or "-")

    def client(self, keepalive: bool = False, connections: int = 8) -> httpx.AsyncClient:
        """A client authenticated with the legacy token; without ``keepalive`` a new connection per request."""
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections if keepalive else 0)
        headers = {"Authorization": f"Token {TOKEN}"}
        if not keepalive:
            headers["Connection"] = "close"
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=TIMEOUT_S, limits=limits)


@contextlib.contextmanager
def running(database: str, pg_server: str, keep_logs_in: Path | None) -> Iterator[LabelStudio]:
    """A fresh Label Studio (throw-away LS_HOME, and its own database on ``pg_server`` for ``postgres``)."""
    script = ensure_installed()
    home = Path(tempfile.mkdtemp(prefix="ls-bench-"))
    data = home / "data"
    data.mkdir()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")}
    env.update({
        "LS_HOME": str(home),
        "LABEL_STUDIO_BASE_DATA_DIR": str(data),
        "LABEL_STUDIO_USERNAME": USER,
        "LABEL_STUDIO_PASSWORD": PASSWORD,
        "LABEL_STUDIO_USER_TOKEN": TOKEN,
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
        "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
        "COLLECT_ANALYTICS": "false",
        "SENTRY_DSN": "",
        "FRONTEND_SENTRY_DSN": "",
        "LATEST_VERSION_CHECK": "false",
    })
    pg_dsn = ""
    if database == "postgres":
        pg_dsn = f"{pg_server}/annotary_bench_ls_{uuid.uuid4().hex[:8]}"
        ensure_database(pg_dsn)
        env.update({"DJANGO_DB": "default", "POSTGRE_NAME": pg_dsn.rsplit("/", 1)[1], "POSTGRE_USER": "postgres",
                     "POSTGRE_PASSWORD": "", "POSTGRE_HOST": "127.0.0.1", "POSTGRE_PORT": "5432"})
    else:
        env["DJANGO_DB"] = "sqlite"
    server = Managed(
        f"label-studio-{database}",
        [str(script), "start", "--no-browser", "--internal-host", "127.0.0.1", "-p", str(port),
         "--data-dir", str(data)],
        env=env,
        log_path=home / "server.log",
    )
    failed = False
    try:
        started = time.monotonic()
        server.start()
        _wait_healthy(f"http://127.0.0.1:{port}", server, timeout_s=300.0)
        log.info("Label Studio (%s) ready in %.1fs on port %d", database, time.monotonic() - started, port)
        assert server.proc is not None
        yield LabelStudio(url=f"http://127.0.0.1:{port}", database=database, pid=server.proc.pid,
                          pg_database=pg_dsn.rsplit("/", 1)[1] if pg_dsn else None)
    except BaseException:
        failed = True
        raise
    finally:
        server.stop()
        if keep_logs_in is not None and failed:
            keep_logs_in.mkdir(parents=True, exist_ok=True)
            shutil.copy(home / "server.log", keep_logs_in / f"label-studio-{database}.log")
        if pg_dsn:
            with contextlib.suppress(Exception):
                drop_database(pg_dsn)
        shutil.rmtree(home, ignore_errors=True)


def _wait_healthy(url: str, server: Managed, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=2.0) as http:
        while True:
            if not server.alive:
                raise RuntimeError(f"Label Studio exited:\n{server.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if http.get(f"{url}/health").status_code == 200:
                    me = http.get(f"{url}/api/current-user/whoami", headers={"Authorization": f"Token {TOKEN}"})
                    if me.status_code == 200:
                        return
                    raise RuntimeError(f"Label Studio refuses the token: {me.status_code} {me.text[:300]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"Label Studio not healthy after {timeout_s}s:\n{server.tail()}")
            time.sleep(0.5)


# -- the work ------------------------------------------------------------------------------------------


async def create_project(ls: LabelStudio, title: str) -> int:
    async with ls.client() as http:
        reply = await http.post("/api/projects/", json={"title": title, "label_config": LS_LABEL_CONFIG})
        if reply.status_code != 201:
            raise RuntimeError(f"create project: {reply.status_code} {reply.text[:300]}")
        return int(reply.json()["id"])


async def import_texts(ls: LabelStudio, project: int, texts: Sequence[str], chunk: int,
                       into: dict[str, Any]) -> tuple[float, list[int]]:
    """Import in chunks (one request each, in order); (seconds, task ids). CPU goes into ``into``."""
    ids: list[int] = []
    started = time.monotonic()
    async with ls.client() as http:
        with measured(ls.meter(), into):
            for at in range(0, len(texts), chunk):
                body = [{"text": t} for t in texts[at:at + chunk]]
                reply = await http.post(f"/api/projects/{project}/import", params={"return_task_ids": "true"},
                                        json=body)
                if reply.status_code != 201:
                    raise RuntimeError(f"import: {reply.status_code} {reply.text[:300]}")
                ids.extend(int(i) for i in reply.json()["task_ids"])
    return time.monotonic() - started, ids


async def next_task_loop(ls: LabelStudio, project: int, iterations: int, keepalive: bool) -> dict[str, Any]:
    """GET /next/ then annotate that task, ``iterations`` times (next/ returns the same task until annotated)."""
    nexts: list[float] = []
    annotates: list[float] = []
    out: dict[str, Any] = {"iterations": iterations}
    async with ls.client(keepalive=keepalive, connections=1) as http:
        with measured(ls.meter(), out):
            for i in range(iterations):
                t0 = time.monotonic()
                reply = await http.get(f"/api/projects/{project}/next/")
                t1 = time.monotonic()
                if reply.status_code != 200:
                    raise RuntimeError(f"next: {reply.status_code} {reply.text[:300]}")
                await _annotate(http, reply.json()["id"], i)
                nexts.append(t1 - t0)
                annotates.append(time.monotonic() - t1)
    return {**out, "next": summary(nexts), "annotate": summary(annotates)}


async def _annotate(http: httpx.AsyncClient, task_id: int, i: int) -> None:
    reply = await http.post(f"/api/tasks/{task_id}/annotations/", json={"result": ls_result(i), "lead_time": 1.0})
    if reply.status_code != 201:
        raise RuntimeError(f"annotate task {task_id}: {reply.status_code} {reply.text[:300]}")


async def submit(ls: LabelStudio, task_ids: Sequence[int], clients: int, keepalive: bool) -> dict[str, Any]:
    """Annotate every task in ``task_ids``, split into ``clients`` disjoint parts worked at once."""
    parts = [task_ids[k::clients] for k in range(clients)]
    latencies: list[float] = []

    async def worker(part: Sequence[int]) -> None:
        async with ls.client(keepalive=keepalive, connections=1) as http:
            for task_id in part:
                t0 = time.monotonic()
                await _annotate(http, task_id, task_id)
                latencies.append(time.monotonic() - t0)

    out: dict[str, Any] = {"clients": clients, "annotations": len(task_ids)}
    started = time.monotonic()
    with measured(ls.meter(), out):
        await asyncio.gather(*(worker(p) for p in parts))
    wall = time.monotonic() - started
    return {**out, "seconds": round(wall, 3), "per_s": round(len(task_ids) / wall, 1), "latency": summary(latencies)}


async def probe(ls: LabelStudio, project: int, requests: int = 30) -> dict[str, Any]:
    """GET /api/projects/{id}/ with a new connection per request vs one kept-alive connection."""
    out: dict[str, Any] = {}
    for keepalive in (False, True):
        times = []
        async with ls.client(keepalive=keepalive, connections=1) as http:
            for _ in range(requests):
                t0 = time.monotonic()
                (await http.get(f"/api/projects/{project}/")).raise_for_status()
                times.append(time.monotonic() - t0)
        out["keepalive" if keepalive else "new_connection"] = summary(times)
    return out
