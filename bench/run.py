"""``python -m bench.run [--quick] [--with-ls] [--ls-db sqlite,postgres]``: the benchmark, one JSON document out.

Phases, each on a machine otherwise left alone by the harness:
1. pgbench -N on a scratch database of the same Postgres (the write ceiling);
2. Annotary (fresh database, Tansu, every service): users and projects over REST, the honest REST imports
   (10k and 50k items, until the orchestrator holds them all), the bulk fill (1M items), workload (a) over gRPC
   and REST at 1/50/200 annotators and paced, the invariant check, then Annotary's half of workload (b);
3. Label Studio (its own venv, after Annotary is stopped): the same work as (b).
Figures, goals and ratios go to stdout as JSON and to bench/results/<timestamp>.json; progress to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import asyncpg
import httpx
import psutil
from prometheus_client.parser import text_string_to_metric_families

from bench import fill, invariants, labelstudio, pgbench, workload
from bench.annotary import Admin, Running, annotary_stack
from bench.cpu import CpuMeter, measured
from bench.goals import evaluate
from bench.stats import log, setup_logging, summary
from bench.texts import ANNOTARY_POLICY, ANNOTARY_SCHEMA, item_text

RESULTS = Path(__file__).resolve().parent / "results"
# How long a workload (a) run waits for QA to catch up afterwards (it decides ~10-150 items/s here, slower as a
# project's history grows): enough to measure its rate, short enough to keep the full run near 25 minutes.
DRAIN_S = 45.0
REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Sizes:
    fill_items: int
    annotators: tuple[int, ...]
    warmup_s: float
    duration_s: float
    paced_annotators: int
    paced_period_s: float
    paced_duration_s: float
    pgbench_clients: tuple[int, ...]
    pgbench_seconds: int
    imports: tuple[int, ...]          # workload (b): items imported per project, one project each
    import_chunk: int                 # items per import request (both systems)
    next_iterations: int              # next-task + annotate loops (1 client)
    submits: int                      # annotations submitted per client count
    submit_clients: tuple[int, ...]


FULL = Sizes(fill_items=1_000_000, annotators=(1, 50, 200), warmup_s=2.0, duration_s=15.0, paced_annotators=200,
             paced_period_s=1.0, paced_duration_s=20.0, pgbench_clients=(1, 8, 10, 32, 50), pgbench_seconds=10,
             imports=(10_000, 50_000), import_chunk=5_000, next_iterations=100, submits=1_000,
             submit_clients=(1, 8))
QUICK = Sizes(fill_items=20_000, annotators=(1, 50, 200), warmup_s=1.0, duration_s=5.0, paced_annotators=200,
              paced_period_s=1.0, paced_duration_s=8.0, pgbench_clients=(1, 8, 10), pgbench_seconds=3,
              imports=(2_000, 5_000), import_chunk=1_000, next_iterations=50, submits=200, submit_clients=(1, 8))


# -- Annotary ------------------------------------------------------------------------------------------


def cpu_meter(run: Running) -> Callable[[], CpuMeter]:
    pids = run.pids()
    database = run.database_url.rsplit("/", 1)[1]
    return lambda: CpuMeter(pids=pids, database=database)


async def _backlog(run: Running, project_id: str | None) -> int:
    """Items submitted but not yet decided by QA (task.submitted -> qa -> annotation.accepted -> orchestrator), in
    one project or in all."""
    conn = await asyncpg.connect(run.database_url)
    try:
        return int(await conn.fetchval(
            "SELECT count(*) FROM orchestrator.items"
            " WHERE ($1::uuid IS NULL OR project_id = $1) AND state = 'submitted'", project_id))
    finally:
        await conn.close()


async def _drain(run: Running, project_id: str | None, timeout_s: float) -> dict[str, Any]:
    """Wait (at most ``timeout_s``) until QA has decided every submitted item, so that one run's events don't bill
    the next one; what is ``left`` after the wait is the next run's ``backlog_at_start``."""
    started = time.monotonic()
    first = await _backlog(run, project_id)
    left = first
    while left and time.monotonic() - started < timeout_s:
        await asyncio.sleep(0.2)
        left = await _backlog(run, project_id)
    seconds = time.monotonic() - started
    return {"backlog_at_end": first, "drain_s": round(seconds, 2), "left": left,
            "decided_per_s": round((first - left) / seconds, 1) if seconds > 0.5 else None}


async def _settle_models(run: Running, timeout_s: float) -> dict[str, Any]:
    """Wait (at most ``timeout_s``) until preannotate has no training job queued or running and no item waiting to be
    scored, so that the comparison's model work (a promotion re-scores up to 10,000 of its items) is not billed to
    workload (a)."""
    conn = await asyncpg.connect(run.database_url)
    started = time.monotonic()
    try:
        while True:
            jobs, unscored = await _model_work(conn)
            if not (jobs or unscored) or time.monotonic() - started > timeout_s:
                return {"settle_s": round(time.monotonic() - started, 1), "jobs_left": jobs, "unscored_left": unscored}
            await asyncio.sleep(1.0)
    finally:
        await conn.close()


async def _model_work(conn: asyncpg.Connection) -> tuple[int, int]:
    """preannotate's training jobs queued or running, and its items waiting to be scored."""
    row = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM preannotate.training_jobs WHERE state IN ('queued', 'running')) AS jobs,"
        " (SELECT count(*) FROM preannotate.items WHERE needs_score) AS unscored")
    assert row is not None
    return int(row["jobs"]), int(row["unscored"])


async def _quiet(run: Running, timeout_s: float, still_s: float = 2.0) -> dict[str, Any]:
    """Wait (at most ``timeout_s``) until the stack is at rest after an import: no consumer behind on the bus, no
    outbox row unpublished, no model job queued or item waiting for a score, and no row written in our database for
    ``still_s`` (the pre-annotation pass over the imported items, the predictions it sends back, any training it
    starts). Label Studio has no such pass (no ML backend is configured), so its next-task and submit figures are
    taken at rest; so are ours."""
    started = time.monotonic()
    conn = await asyncpg.connect(run.database_url)
    written = "SELECT tup_inserted + tup_updated + tup_deleted FROM pg_stat_database WHERE datname = current_database()"
    try:
        before = await conn.fetchval(written)
        while time.monotonic() - started < timeout_s:
            await asyncio.sleep(still_s)
            now = await conn.fetchval(written)
            try:
                behind = await _metrics_by_service(run, ("annotary_consumer_lag", "annotary_outbox_backlog"))
            except httpx.TimeoutException:  # a service too busy to answer in time is not at rest
                behind = {"busy": {"no answer": 1.0}}
            if now == before and not any(any(v.values()) for v in behind.values()) and not any(await _model_work(conn)):
                return {"settle_s": round(time.monotonic() - started, 1), "quiet": True}
            before = now
        return {"settle_s": round(time.monotonic() - started, 1), "quiet": False}
    finally:
        await conn.close()


async def _metrics_by_service(run: Running, names: Sequence[str]) -> dict[str, dict[str, float]]:
    """Per live service, the sum of each named sample over its label sets (from its /metrics)."""
    async with httpx.AsyncClient(timeout=10.0) as http:
        async def one(service: str, port: int) -> tuple[str, dict[str, float]]:
            reply = await http.get(f"http://127.0.0.1:{port}/metrics")
            reply.raise_for_status()
            totals = dict.fromkeys(names, 0.0)
            for family in text_string_to_metric_families(reply.text):
                for sample in family.samples:
                    if sample.name in totals:
                        totals[sample.name] += sample.value
            return service, totals

        return dict(await asyncio.gather(*(one(service, port) for service, port in run.stack.http_ports.items()
                                           if run.stack.procs[service].alive)))


async def _db_counters(run: Running) -> dict[str, int]:
    """Our database's cumulative commits and rows written (pg_stat_database; other sessions' work included), and
    the statements each service has sent (``statements.<service>``: its query-duration histogram's count, which
    every statement of a pooled connection feeds, a pool's reset on release included) and their sum."""
    conn = await asyncpg.connect(run.database_url)
    try:
        row = await conn.fetchrow(
            "SELECT xact_commit AS commits, tup_inserted AS rows_inserted, tup_updated AS rows_updated,"
            " tup_deleted AS rows_deleted FROM pg_stat_database WHERE datname = current_database()")
        assert row is not None
        counters = {k: int(v) for k, v in row.items()}
    finally:
        await conn.close()
    statements = await _statements_by_service(run)
    counters.update({f"statements.{name}": n for name, n in statements.items()})
    counters["statements"] = sum(statements.values())
    return counters


async def _statements_by_service(run: Running) -> dict[str, int]:
    count = "annotary_db_query_duration_seconds_count"
    return {service: int(m[count]) for service, m in (await _metrics_by_service(run, (count,))).items()}


async def _import(admin: Admin, project_id: str, texts: list[str], chunk: int, meter: CpuMeter) -> dict[str, Any]:
    """REST import in chunks, then wait until the orchestrator holds every item (so they can be leased)."""
    out: dict[str, Any] = {}
    started = time.monotonic()
    created = 0
    with measured(meter, out):
        for at in range(0, len(texts), chunk):
            batch = [{"external_id": f"cmp-{at + k}", "text": t} for k, t in enumerate(texts[at:at + chunk])]
            created += await admin.import_items(project_id, batch)
        accepted = time.monotonic()
        queued = await admin.wait_queued(project_id, len(texts), timeout_s=900.0)
    seconds = queued - started
    return {**out, "items": len(texts), "created": created, "seconds": round(seconds, 2),
            "items_per_s": round(len(texts) / seconds, 1), "requests_s": round(accepted - started, 2),
            "queue_lag_s": round(queued - accepted, 2), "chunk": chunk}


async def _next_task_loop(run: Running, project_id: str, user: tuple[str, str], iterations: int,
                          keepalive: bool) -> dict[str, Any]:
    """Annotary's equivalent of Label Studio's next/ + annotate loop, over REST, one annotator."""
    nexts: list[float] = []
    submits: list[float] = []
    out: dict[str, Any] = {"iterations": iterations, "keepalive": keepalive}
    async with workload.rest_annotators(run.api, project_id, [user], keepalive=keepalive) as (who,):
        with measured(cpu_meter(run)(), out):
            for i in range(iterations):
                t0 = time.monotonic()
                task_id = await who.lease()
                t1 = time.monotonic()
                await who.submit(task_id, i)
                nexts.append(t1 - t0)
                submits.append(time.monotonic() - t1)
    return {**out, "next": summary(nexts), "annotate": summary(submits)}


async def _submits(run: Running, project_id: str, users: list[tuple[str, str]], total: int,
                   clients: int) -> dict[str, Any]:
    """``total`` annotations from ``clients`` annotators at once, each lease -> submit; the wall time includes the
    leases (Label Studio's clients know their task ids in advance, ours lease them)."""
    per = [total // clients + (1 if k < total % clients else 0) for k in range(clients)]
    latencies: list[float] = []
    lease_latencies: list[float] = []

    async def worker(who: workload.RestAnnotator, count: int) -> None:
        for i in range(count):
            t0 = time.monotonic()
            task_id = await who.lease()
            t1 = time.monotonic()
            await who.submit(task_id, i)
            lease_latencies.append(t1 - t0)
            latencies.append(time.monotonic() - t1)

    out: dict[str, Any] = {"clients": clients, "annotations": total}
    async with workload.rest_annotators(run.api, project_id, users[:clients]) as annotators:
        started = time.monotonic()
        with measured(cpu_meter(run)(), out):
            await asyncio.gather(*(worker(a, n) for a, n in zip(annotators, per, strict=True)))
        wall = time.monotonic() - started
    return {**out, "seconds": round(wall, 3), "per_s": round(total / wall, 1),
            "latency": summary(latencies), "lease_latency": summary(lease_latencies),
            "note": "wall time includes a lease before each submit"}


async def annotary_phase(run: Running, sizes: Sizes, out: dict[str, Any]) -> None:
    """Fill ``out`` as figures come in (a failure keeps what was measured)."""
    admin = Admin(run.api, run.admin_token)
    try:
        users = await admin.create_users(max((*sizes.annotators, sizes.paced_annotators, *sizes.submit_clients)))
        log.info("%d annotator users created", len(users))

        # (b), Annotary's half, first part: the honest imports through REST -> ingest -> bus -> orchestrator.
        compare: dict[str, Any] = {"import": {}}
        out["compare"] = compare
        compare_projects: dict[int, str] = {}
        for n in sizes.imports:
            pid = await admin.create_project(f"compare-{n}", ANNOTARY_SCHEMA, ANNOTARY_POLICY)
            compare_projects[n] = pid
            log.info("importing %d items over REST ...", n)
            compare["import"][str(n)] = result = await _import(admin, pid, [item_text(i) for i in range(n)],
                                                               sizes.import_chunk, cpu_meter(run)())
            log.info("import %d: %.1fs (%.0f items/s; requests %.1fs, then the queue %.1fs)", n, result["seconds"],
                     result["items_per_s"], result["requests_s"], result["queue_lag_s"])

        # (b), Annotary's half, the rest: next task on the biggest project, submits on the smallest (each at rest,
        # as below); then QA catches up before (a) starts.
        big, small = compare_projects[max(sizes.imports)], compare_projects[min(sizes.imports)]
        # What an annotator sees while the pre-annotation pass over the imports still runs (printed, not a goal) ...
        log.info("next-task loop during the pre-annotation pass, %d iterations ...", sizes.next_iterations)
        compare["next_task_during_preannotation"] = await _next_task_loop(run, big, users[0], sizes.next_iterations,
                                                                          keepalive=True)
        # ... then at rest, as Label Studio (no ML backend) is measured.
        compare["import_settle"] = await _quiet(run, timeout_s=600.0)
        log.info("the stack is at rest after the imports: %s", compare["import_settle"])
        log.info("next-task loop, %d iterations ...", sizes.next_iterations)
        compare["next_task"] = await _next_task_loop(run, big, users[0], sizes.next_iterations, keepalive=True)
        compare["next_task_new_connection"] = await _next_task_loop(run, big, users[1], sizes.next_iterations,
                                                                    keepalive=False)
        compare["submit"] = {}
        for c in sizes.submit_clients:
            if c != sizes.submit_clients[0]:  # each run starts at rest: the model work the last one started is done
                compare.setdefault("submit_settle", {})[str(c)] = await _quiet(run, timeout_s=600.0)
            log.info("%d submits from %d client(s) ...", sizes.submits, c)
            compare["submit"][str(c)] = await _submits(run, small, users[2:2 + c], sizes.submits, c)
            log.info("submits, %d client(s): %.1f/s", c, compare["submit"][str(c)]["per_s"])
        compare["pipeline"] = await _drain(run, None, timeout_s=300.0)
        log.info("QA caught up with the comparison's submissions: %s", compare["pipeline"])
        compare["models"] = await _settle_models(run, timeout_s=300.0)
        log.info("preannotate settled after the comparison: %s", compare["models"])

        # The bulk fill, checked against rows the event path just wrote.
        main = await admin.create_project("fill", ANNOTARY_SCHEMA, ANNOTARY_POLICY)
        log.info("filling %d items in bulk ...", sizes.fill_items)
        conn = await asyncpg.connect(run.database_url)
        try:
            out["fill"] = await fill.fill(conn, main, sizes.fill_items)
            out["fill"]["verify"] = await fill.verify(conn, main, compare_projects[min(sizes.imports)])
        finally:
            await conn.close()
        log.info("fill: %s", {k: v for k, v in out["fill"].items() if k != "verify"})
        if not out["fill"]["verify"]["ok"]:
            log.warning("the fill does NOT match item.ingested: %s", out["fill"]["verify"]["mismatches"])
        if out["fill"]["verify"]["later_events"]:
            log.info("left out of the fill (written by later events): %s", out["fill"]["verify"]["later_events"])

        # (a) saturation: gRPC straight to the orchestrator, then REST through the gateway; then paced.
        meters = workload.Meters(cpu=cpu_meter(run), drain=lambda: _drain(run, main, DRAIN_S),
                                 backlog=lambda: _backlog(run, main), db=lambda: _db_counters(run))
        w, d = sizes.warmup_s, sizes.duration_s
        out["grpc"] = {str(n): await workload.grpc_run(run.orchestrator_addr, main, n, f"grpc-{n}", w, d, meters)
                       for n in sizes.annotators}
        out["rest"] = {str(n): await workload.rest_run(run.api, main, users[:n], w, d, meters)
                       for n in sizes.annotators}
        p, period = sizes.paced_annotators, sizes.paced_period_s
        out["paced"] = {
            "grpc": await workload.grpc_run(run.orchestrator_addr, main, p, "paced", w, sizes.paced_duration_s,
                                            meters, period_s=period),
            "rest": await workload.rest_run(run.api, main, users[:p], w, sizes.paced_duration_s, meters,
                                            period_s=period),
        }
        leased = workload.pop_leases(out["grpc"])
        for part in (out["rest"], out["paced"]):
            for task_id, names in workload.pop_leases(part).items():
                leased.setdefault(task_id, set()).update(names)
        pairs = sum(r["completed_in_all"] for part in (out["grpc"], out["rest"], out["paced"]) for r in part.values())
        out["invariant"] = await invariants.check(run.database_url, main, leased, pairs)
        log.info("invariant: %s", "ok" if out["invariant"]["ok"] else out["invariant"]["violations"])

    finally:
        await admin.aclose()


# -- Label Studio --------------------------------------------------------------------------------------


async def ls_work(ls: labelstudio.LabelStudio, sizes: Sizes, out: dict[str, Any]) -> None:
    """Fill ``out`` as figures come in."""
    out.update({"database": ls.database, "version": labelstudio.VERSION, "server": "runserver (pip)",
                "connections": "a new connection per request (see probe)", "import": {}})
    projects: dict[int, tuple[int, list[int]]] = {}
    for n in sizes.imports:
        pid = await labelstudio.create_project(ls, f"compare-{n}")
        log.info("Label Studio (%s): importing %d items ...", ls.database, n)
        figures: dict[str, Any] = {}
        seconds, ids = await labelstudio.import_texts(ls, pid, [item_text(i) for i in range(n)], sizes.import_chunk,
                                                      figures)
        projects[n] = (pid, ids)
        out["import"][str(n)] = {**figures, "items": n, "created": len(ids), "seconds": round(seconds, 2),
                                 "items_per_s": round(n / seconds, 1), "chunk": sizes.import_chunk}
        log.info("Label Studio import %d: %.1fs (%.0f items/s)", n, seconds, n / seconds)
    big_pid, _ = projects[max(sizes.imports)]
    small_pid, small_ids = projects[min(sizes.imports)]
    out["probe"] = await labelstudio.probe(ls, small_pid)
    log.info("Label Studio next-task loop ...")
    out["next_task"] = await labelstudio.next_task_loop(ls, big_pid, sizes.next_iterations, keepalive=False)
    out["submit"] = {}
    offset = 0
    for c in sizes.submit_clients:
        part = small_ids[offset:offset + sizes.submits]
        offset += sizes.submits
        log.info("Label Studio: %d submits from %d client(s) ...", len(part), c)
        out["submit"][str(c)] = await labelstudio.submit(ls, part, c, keepalive=False)
        log.info("Label Studio submits, %d client(s): %.1f/s", c, out["submit"][str(c)]["per_s"])


# -- the whole run -------------------------------------------------------------------------------------


def machine_state(pg_server: str) -> dict[str, Any]:
    """What else is going on: load average and other databases' active sessions on the shared Postgres."""

    async def sessions() -> dict[str, int]:
        conn = await asyncpg.connect(f"{pg_server}/postgres")
        try:
            rows = await conn.fetch("SELECT datname, count(*) AS n FROM pg_stat_activity WHERE datname IS NOT NULL"
                                    " AND pid <> pg_backend_pid() GROUP BY datname")
            return {r["datname"]: int(r["n"]) for r in rows}
        finally:
            await conn.close()

    return {"load_avg": [round(x, 2) for x in os.getloadavg()], "cpus": psutil.cpu_count(),
            "postgres_sessions_by_database": asyncio.run(sessions())}


def git_state() -> dict[str, Any]:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=30)
        return done.stdout.strip()

    spec = importlib.util.find_spec("annotary_orchestrator")
    return {"commit": git("rev-parse", "HEAD"), "dirty_files": len(git("status", "--porcelain").splitlines()),
            # the services run from here (PYTHONPATH can point them at another checkout)
            "services_from": str(Path(spec.origin).parents[4]) if spec and spec.origin else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run (no Label Studio)")
    parser.add_argument("--with-ls", action="store_true", help="with --quick: run Label Studio too")
    parser.add_argument("--no-ls", action="store_true", help="skip Label Studio")
    parser.add_argument("--ls-db", default="sqlite",
                        help="Label Studio databases, comma-separated: sqlite (its default), postgres (adds ~8 min)")
    parser.add_argument("--no-pgbench", action="store_true", help="skip pgbench")
    parser.add_argument("--no-annotary", action="store_true", help="skip Annotary (to look at Label Studio alone)")
    parser.add_argument("--fill-items", type=int, help="override: items filled in bulk for workload (a)")
    parser.add_argument("--imports", help="override: comma-separated import sizes for workload (b), e.g. 10000,50000")
    parser.add_argument("--duration", type=float, help="override: seconds measured per saturation run")
    parser.add_argument("--submits", type=int, help="override: annotations submitted per client count in (b)")
    parser.add_argument("--pg", default=os.environ.get("ANNOTARY_BENCH_PG", "postgresql://postgres@127.0.0.1:5432"),
                        help="the Postgres server (trust auth), without a database name")
    parser.add_argument("--out", type=Path, default=None, help="where to write the JSON (default bench/results/)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    signal.signal(signal.SIGTERM, _terminate)

    sizes = QUICK if args.quick else FULL
    if args.fill_items is not None:
        sizes = replace(sizes, fill_items=args.fill_items)
    if args.imports:
        sizes = replace(sizes, imports=tuple(int(n) for n in args.imports.split(",")))
    if args.duration is not None:
        sizes = replace(sizes, duration_s=args.duration)
    if args.submits is not None:
        sizes = replace(sizes, submits=args.submits)
    with_ls = not args.no_ls and (args.with_ls or not args.quick)
    needed = sizes.submits * len(sizes.submit_clients)
    if min(sizes.imports) < needed:
        parser.error(f"the smallest import ({min(sizes.imports)}) must hold the {needed} tasks the submits need")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out_path = args.out or RESULTS / f"{stamp}.json"
    logs = RESULTS / f"{stamp}-logs"
    started = time.monotonic()
    doc: dict[str, Any] = {
        "meta": {"started_at": datetime.now(UTC).isoformat(), "mode": "quick" if args.quick else "full",
                 "sizes": asdict(sizes), "git": git_state(), "machine_at_start": machine_state(args.pg)},
    }
    failed: BaseException | None = None
    try:
        if not args.no_pgbench:
            log.info("pgbench -N ...")
            doc["pgbench"] = pgbench.run(args.pg, sizes.pgbench_clients, sizes.pgbench_seconds)
        if not args.no_annotary:
            with annotary_stack(args.pg, keep_logs_in=logs) as run:
                doc["annotary"] = {}
                asyncio.run(annotary_phase(run, sizes, doc["annotary"]))
        if with_ls:
            doc["label_studio"] = {}
            for db in [d.strip() for d in args.ls_db.split(",") if d.strip()]:
                try:
                    with labelstudio.running(db, args.pg, keep_logs_in=logs) as ls:
                        doc["label_studio"][db] = {}
                        asyncio.run(ls_work(ls, sizes, doc["label_studio"][db]))
                except Exception as exc:
                    log.exception("Label Studio (%s) failed", db)
                    doc["label_studio"].setdefault(db, {})["error"] = repr(exc)
        else:
            doc["label_studio"] = {"skipped": "--quick without --with-ls, or --no-ls"}
    except BaseException as exc:
        failed = exc
        doc["error"] = repr(exc)
        log.exception("the benchmark failed")
    finally:
        doc["meta"]["machine_at_end"] = machine_state(args.pg)
        doc["meta"]["finished_at"] = datetime.now(UTC).isoformat()
        doc["meta"]["duration_s"] = round(time.monotonic() - started, 1)
        with contextlib.suppress(Exception):
            doc["ratios"], doc["goals"] = evaluate(doc, sizes.annotators)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(doc, indent=2, default=str)
        out_path.write_text(text + "\n")
        sys.stdout.write(text + "\n")
        log.info("written to %s (%.0fs)", out_path, time.monotonic() - started)
    if failed is not None:
        return 1
    return 0


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(f"terminated by signal {signum}")


if __name__ == "__main__":
    raise SystemExit(main())
