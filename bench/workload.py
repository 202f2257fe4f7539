"""Workload (a): N concurrent annotators, each looping lease -> submit, over gRPC or over the REST gateway.

Every annotator is an asyncio task. A run has a warm-up (not measured) and a measured window; latencies count the
calls that started in the window, throughput the pairs that finished in it. With ``period_s`` an annotator starts
an iteration at most once per period (the paced variant: "200 annotators each leasing about once a second").
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import grpc
import httpx

from annotary.orchestrator.v1 import orchestrator_pb2, orchestrator_pb2_grpc
from annotary_common.grpc_util import open_channel
from bench.cpu import CpuMeter
from bench.stats import log, summary
from bench.texts import annotary_result

DEADLINE_S = 10.0


class Empty(Exception):
    """Nothing left to lease for this annotator."""


class Annotator(Protocol):
    name: str

    async def lease(self) -> str:
        """Lease (or get back the held) task; its id. Raises Empty when nothing is left."""

    async def submit(self, task_id: str, n: int) -> None: ...


@dataclass
class Sample:
    started: float
    lease_s: float
    submit_s: float
    finished: float


@dataclass
class RunLog:
    samples: list[Sample] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    # task id -> the annotators it was leased to (the client-side half of the invariant check)
    leased_to: dict[str, set[str]] = field(default_factory=dict)
    empty: int = 0


def error_kind(exc: BaseException) -> str:
    if isinstance(exc, grpc.aio.AioRpcError):
        return f"grpc:{exc.code().name}"
    if isinstance(exc, HttpError):
        return f"http:{exc.status}"
    return type(exc).__name__


class HttpError(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"HTTP {status}: {text[:200]}")
        self.status = status


# -- gRPC ----------------------------------------------------------------------------------------------


class GrpcAnnotator:
    def __init__(self, stub: orchestrator_pb2_grpc.OrchestratorServiceAsyncStub, project_id: str, name: str) -> None:
        self.stub = stub
        self.project_id = project_id
        self.name = name

    async def lease(self) -> str:
        reply = await self.stub.LeaseNextTask(
            orchestrator_pb2.LeaseNextTaskRequest(project_id=self.project_id, annotator_id=self.name),
            timeout=DEADLINE_S,
        )
        if not reply.found:
            raise Empty(reply.reason)
        return str(reply.task.task_id)

    async def submit(self, task_id: str, n: int) -> None:
        await self.stub.SubmitTask(
            orchestrator_pb2.SubmitTaskRequest(
                task_id=task_id, annotator_id=self.name, result_json=json.dumps(annotary_result(n)), lead_time_ms=1000
            ),
            timeout=DEADLINE_S,
        )


# -- REST ----------------------------------------------------------------------------------------------


class RestAnnotator:
    """One annotator with its own HTTP client and connection, as a browser would have (a pool shared by hundreds
    of tasks costs the load generator more CPU than the requests cost the server)."""

    def __init__(self, api: str, project_id: str, name: str, token: str, keepalive: bool = True) -> None:
        self.http = httpx.AsyncClient(
            base_url=api,
            timeout=DEADLINE_S,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1 if keepalive else 0),
            headers={"Authorization": f"Bearer {token}", **({} if keepalive else {"Connection": "close"})},
        )
        self.project_id = project_id
        self.name = name

    async def lease(self) -> str:
        reply = await self.http.post(f"/projects/{self.project_id}/tasks/next")
        if reply.status_code == 204:
            raise Empty("204")
        if reply.status_code != 200:
            raise HttpError(reply.status_code, reply.text)
        return str(reply.json()["id"])

    async def submit(self, task_id: str, n: int) -> None:
        reply = await self.http.post(f"/tasks/{task_id}/submit",
                                     json={"result": annotary_result(n), "lead_time_ms": 1000})
        if reply.status_code != 200:
            raise HttpError(reply.status_code, reply.text)


@contextlib.asynccontextmanager
async def rest_annotators(api: str, project_id: str, users: Sequence[tuple[str, str]],
                          keepalive: bool = True) -> AsyncIterator[list[RestAnnotator]]:
    """One :class:`RestAnnotator` per (user id, token), closed on the way out."""
    annotators = [RestAnnotator(api, project_id, uid, token, keepalive) for uid, token in users]
    try:
        yield annotators
    finally:
        await asyncio.gather(*(a.http.aclose() for a in annotators), return_exceptions=True)


# -- the loop ------------------------------------------------------------------------------------------


async def _annotator_loop(who: Annotator, end: float, out: RunLog, counter: list[int], period_s: float | None,
                          first_delay_s: float) -> None:
    if first_delay_s:
        await asyncio.sleep(first_delay_s)
    next_tick = time.monotonic()
    while time.monotonic() < end:
        started = time.monotonic()
        try:
            task_id = await who.lease()
            leased = time.monotonic()
            out.leased_to.setdefault(task_id, set()).add(who.name)
            counter[0] += 1
            await who.submit(task_id, counter[0])
            finished = time.monotonic()
        except Empty:
            out.empty += 1
            return
        except Exception as exc:
            out.errors[error_kind(exc)] += 1
            await asyncio.sleep(0.01)
            continue
        out.samples.append(Sample(started, leased - started, finished - leased, finished))
        if period_s is not None:
            next_tick = max(next_tick + period_s, time.monotonic())
            await asyncio.sleep(max(0.0, next_tick - time.monotonic()))


@dataclass
class Meters:
    """What a run measures besides latencies: CPU per process, and the event pipeline's backlog (submissions QA
    has not decided yet) which the run waits out, so that one run's events never bill the next one."""

    cpu: Callable[[], CpuMeter]
    drain: Callable[[], Awaitable[dict[str, Any]]]
    backlog: Callable[[], Awaitable[int]]
    db: Callable[[], Awaitable[dict[str, int]]]  # the database's cumulative counters (pg_stat_database)


async def run_annotators(annotators: Sequence[Annotator], warmup_s: float, duration_s: float,
                         meters: Meters | None = None, period_s: float | None = None) -> dict[str, Any]:
    """Run every annotator for ``warmup_s + duration_s``; the figures of the measured window.

    CPU is measured from the window's start until the pipeline has drained, and divided by the pairs finished in
    the window: the whole cost of a pair, the asynchronous part (task.submitted -> qa -> accepted) included.
    """
    out = RunLog()
    counter = [0]
    start = time.monotonic()
    window_start = start + warmup_s
    end = window_start + duration_s
    rng = random.Random(7)
    tasks = [
        asyncio.ensure_future(
            _annotator_loop(a, end, out, counter, period_s, rng.uniform(0.0, period_s) if period_s else 0.0)
        )
        for a in annotators
    ]
    cpu = meters.cpu() if meters else None
    db_before: dict[str, int] = {}
    backlog_at_start = None
    if meters is not None and cpu is not None:
        await asyncio.sleep(max(0.0, window_start - time.monotonic()))
        cpu.start()
        db_before = await meters.db()
        backlog_at_start = await meters.backlog()
    try:
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=warmup_s + duration_s + 3 * DEADLINE_S)
    except TimeoutError:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        out.errors["harness:stuck-annotator"] += 1
    drain = await meters.drain() if meters else None
    cpu_used = cpu.stop() if cpu is not None else None
    db_after = await meters.db() if meters else {}
    measured = [s for s in out.samples if window_start <= s.started < end]
    done = [s for s in out.samples if window_start <= s.finished < end]
    pairs_per_s = len(done) / duration_s
    result: dict[str, Any] = {
        "annotators": len(annotators),
        "duration_s": duration_s,
        "warmup_s": warmup_s,
        "pairs": len(done),
        "pairs_per_s": round(pairs_per_s, 1),
        "write_tx_per_s": round(2 * pairs_per_s, 1),
        "lease": summary([s.lease_s for s in measured]),
        "submit": summary([s.submit_s for s in measured]),
        "pair": summary([s.lease_s + s.submit_s for s in measured]),
        "errors": dict(out.errors),
        "empty": out.empty,
        "completed_in_all": len(out.samples),  # warm-up and stragglers included (for the invariant's counts)
    }
    if period_s is not None:
        result["period_s"] = period_s
        result["leases_per_s"] = round(len(measured) / duration_s, 1)
    if drain is not None:
        result["pipeline"] = {"backlog_at_start": backlog_at_start, **drain}
        # Pairs per second when the asynchronous part has to keep up too (QA deciding every submission); when the
        # wait ended with a backlog left, the rest of the drain is extrapolated at the rate QA showed.
        rest_s = 0.0
        if drain["left"]:
            rest_s = drain["left"] / drain["decided_per_s"] if drain.get("decided_per_s") else float("inf")
        sustained = len(done) / (duration_s + drain["drain_s"] + rest_s)
        result["sustained_pairs_per_s"] = round(sustained, 1)
    if cpu_used is not None:
        result["cpu_s"] = cpu_used
        if done:
            result["cpu_ms_per_pair"] = {k: round(1000 * v / len(done), 3) for k, v in cpu_used.items()
                                         if k not in ("wall_s", "cores", "other_share_of_machine",
                                                      "steal_share_of_machine")}
    if done and db_before:
        # What one pair costs the database, the asynchronous part included: commits, rows written, statements.
        result["db_per_pair"] = {k: round((db_after[k] - db_before[k]) / len(done), 2)
                                 for k in db_before if k in db_after}
    result["_leased_to"] = out.leased_to  # merged by the caller into the invariant check, then dropped
    return result


# -- the scenarios -------------------------------------------------------------------------------------


async def grpc_run(addr: str, project_id: str, n: int, tag: str, warmup_s: float, duration_s: float,
                   meters: Meters, period_s: float | None = None) -> dict[str, Any]:
    """``n`` annotators calling the orchestrator's gRPC API directly (one channel, HTTP/2 multiplexed)."""
    channel = open_channel(addr)
    try:
        stub: orchestrator_pb2_grpc.OrchestratorServiceAsyncStub = orchestrator_pb2_grpc.OrchestratorServiceStub(
            channel)
        annotators = [GrpcAnnotator(stub, project_id, f"{tag}-{k}") for k in range(n)]
        what = f"gRPC, {n} annotators" + (f" every {period_s}s" if period_s else "")
        return await _logged(what, run_annotators(annotators, warmup_s, duration_s, meters, period_s))
    finally:
        await channel.close(None)


async def rest_run(api: str, project_id: str, users: Sequence[tuple[str, str]], warmup_s: float,
                   duration_s: float, meters: Meters, period_s: float | None = None) -> dict[str, Any]:
    """One annotator per user, through the REST gateway."""
    async with rest_annotators(api, project_id, users) as annotators:
        what = f"REST, {len(users)} annotators" + (f" every {period_s}s" if period_s else "")
        return await _logged(what, run_annotators(annotators, warmup_s, duration_s, meters, period_s))


async def _logged(what: str, run: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    log.info("%s ...", what)
    result = await run
    log.info(
        "%s: %.1f pairs/s (sustained %s), lease p50 %s ms p95 %s ms, submit p95 %s ms, errors %s",
        what, result["pairs_per_s"], result.get("sustained_pairs_per_s"), result["lease"]["p50_ms"],
        result["lease"]["p95_ms"], result["submit"]["p95_ms"],
        result["errors"] or "none",
    )
    return result


def pop_leases(runs: dict[str, Any]) -> dict[str, set[str]]:
    """Remove and merge the runs' ``_leased_to`` maps (task id -> annotators)."""
    merged: dict[str, set[str]] = {}
    for run in runs.values():
        for task_id, names in run.pop("_leased_to", {}).items():
            merged.setdefault(task_id, set()).update(names)
    return merged
