"""Export benchmark: N accepted annotations exported as COCO and JSONL by the export service's own build
(server-side cursor, streaming writers, upload from a temp file), on the machine's Postgres; wall time and peak
memory of the build, and whether the peak stays flat (within 10 %) from the smallest to the largest N.

    .venv/bin/python -m bench.export_bench [--quick] [--sizes 10000,100000] [--formats coco,jsonl,spacy]
        [--no-ls | --with-ls] [--ls-db sqlite] [--ls-import-budget-s 900]

Label Studio (the peer, bench/labelstudio.py: its own venv, spoken to over HTTP) gets the same accepted annotations
(the image items as tasks with one annotation each, through its import API) and its JSON export
(``GET /api/projects/{id}/export?exportType=JSON``, its synchronous "easy export") is timed at the same sizes,
beside ours; its server's RSS (the process tree, sampled from /proc) is the peak during the export. The items are
imported into one Label Studio project size after size (10k, then 90k more); a size is skipped, and says so, when
the import time projected from the previous size's rate would pass ``--ls-import-budget-s``. ``--quick``: 1k and
5k items, no Label Studio unless ``--with-ls``. spaCy is measured on text items (a project of its own).

Prints one JSON document. Each build runs in a child process of its own, so its peak RSS (``VmHWM``) is the
build's alone, not the seeding's; ``peak_rss_mib`` is the child's peak, ``build_rss_delta_mib`` the growth over the
child's RSS just before the build started (interpreter, imports and the pool).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Run as a script, this folder is sys.path[0] and bench/annotary.py would shadow the ``annotary`` proto package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
if str(Path(__file__).resolve().parent.parent) not in sys.path:
    sys.path.append(str(Path(__file__).resolve().parent.parent))  # ``bench.labelstudio`` when run as a script

PG = os.environ.get("ANNOTARY_BENCH_PG", os.environ.get("ANNOTARY_TEST_PG",
                                                         "postgresql://postgres@127.0.0.1:5432/postgres"))
LABELS = ["person", "car", "dog", "cat"]


def _status_mib(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def _rss_mib() -> float:
    return _status_mib("VmRSS")


def _peak_rss_mib() -> float:
    """This process's own peak RSS (VmHWM). Not ``ru_maxrss``: Linux carries the parent's high-water mark into a
    child at exec, so a child forked from a bench process that had grown (Label Studio's export parsed in it)
    reported the parent's peak, not its own."""
    return _status_mib("VmHWM")


TEXT = "Ada Lovelace met Charles Babbage in London in 1833 and wrote notes on item {n} of the engine."


def image_item(project: uuid.UUID, n: int) -> tuple[Any, list[dict[str, Any]]]:
    """The ``n``-th image item (snapshot) and its accepted result: two boxes and a polygon."""
    from annotary.events.v1 import events_pb2

    item_id = uuid.uuid5(project, str(n))
    snap = events_pb2.ItemSnapshot(
        item_id=str(item_id), project_id=str(project), external_id=f"img_{n:07d}.jpg", modality="image",
        media_uri=f"s3://bench/media/{n:07d}.jpg", width=640, height=480, media_type="image/jpeg",
        meta_json='{"source": "bench"}')
    result = [
        {"id": "a", "type": "bbox", "label": LABELS[n % 4], "x": n % 300, "y": 20, "w": 120, "h": 80},
        {"id": "b", "type": "bbox", "label": LABELS[(n + 1) % 4], "x": 10, "y": n % 200, "w": 50, "h": 60},
        {"id": "c", "type": "polygon", "label": LABELS[(n + 2) % 4],
         "points": [[100, 100], [180, 110], [160, 190], [90, 170]]},
    ]
    return snap, result


def text_item(project: uuid.UUID, n: int) -> tuple[Any, list[dict[str, Any]]]:
    """The ``n``-th text item and its accepted result: two spans and a choice (for spaCy)."""
    from annotary.events.v1 import events_pb2

    snap = events_pb2.ItemSnapshot(
        item_id=str(uuid.uuid5(project, str(n))), project_id=str(project), external_id=f"txt_{n:07d}.txt",
        modality="text", text=TEXT.format(n=n), meta_json='{"source": "bench"}')
    result = [{"id": "a", "type": "span", "label": "PER", "start": 0, "end": 12},
              {"id": "b", "type": "span", "label": "LOC", "start": 35, "end": 41},
              {"id": "c", "type": "choice", "name": "topic", "value": ["history", "math"][n % 2]}]
    return snap, result


async def seed(url: str, project: uuid.UUID, count: int, modality: str = "image") -> None:
    """``count`` accepted annotations (image or text items), written with COPY in chunks."""
    import asyncpg

    from annotary_common.db import create_pool, migrate

    make = image_item if modality == "image" else text_item
    pool = await create_pool(url, "export", max_size=2)
    await migrate(pool, "export", "annotary_export")
    now = datetime.now(UTC)
    chunk = 10_000
    async with pool.acquire() as conn:
        conn: asyncpg.Connection  # type: ignore[no-redef]
        for start in range(0, count, chunk):
            rows = []
            for n in range(start, min(count, start + chunk)):
                snap, result = make(project, n)
                rows.append((uuid.UUID(snap.item_id), project, snap.SerializeToString(), json.dumps(result), 0.9, 1,
                             ["u1", "u2"], now, snap.external_id, 3, ["detector@7"], "box_f1@0.5", "consensus"))
            await conn.copy_records_to_table(
                "accepted", records=rows,
                columns=["item_id", "project_id", "snapshot", "result_json", "agreement", "round", "annotators",
                         "accepted_at", "external_id", "schema_version", "prelabel_model_versions",
                         "agreement_metric", "decided_by"])
        await conn.execute("ANALYZE accepted")
    await pool.close()


# -- Label Studio, the peer ---------------------------------------------------------------------------
LS_CONFIG = ('<View><Image name="image" value="$image"/>'
             '<RectangleLabels name="label" toName="image">' + "".join(f'<Label value="{n}"/>' for n in LABELS)
             + '</RectangleLabels><PolygonLabels name="poly" toName="image">'
             + "".join(f'<Label value="{n}"/>' for n in LABELS) + "</PolygonLabels></View>")


def ls_task(project: uuid.UUID, n: int) -> dict[str, Any]:
    """The ``n``-th image item as a Label Studio task with its accepted annotation, the results converted as our
    Label Studio exporter converts them (percent coordinates)."""
    from annotary_common.labelstudio import to_labelstudio

    snap, result = image_item(project, n)
    regions = [r for k, region in enumerate(result)
               if (r := to_labelstudio(region, k, modality="image", width=snap.width, height=snap.height))]
    for r in regions:
        if r["type"] == "polygonlabels":
            r["from_name"] = "poly"
    return {"data": {"image": f"https://bench.invalid/media/{n:07d}.jpg", "external_id": snap.external_id},
            "annotations": [{"result": regions, "was_cancelled": False, "ground_truth": False}]}


def _tree_rss_mib(pid: int) -> float:
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / 2**20


class RssSampler:
    """The peak RSS of a process tree, sampled every 20 ms in a thread."""

    def __init__(self, pid: int) -> None:
        import threading

        self.pid = pid
        self.before = _tree_rss_mib(pid)
        self.peak = self.before
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, _tree_rss_mib(self.pid))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _tree_rss_mib(self.pid))


async def ls_import(ls: Any, ls_project: int, project: uuid.UUID, start: int, stop: int, chunk: int) -> float:
    """Import items ``start``..``stop`` with their annotations, ``chunk`` tasks per request; seconds taken."""
    began = time.perf_counter()
    async with ls.client() as http:
        for at in range(start, stop, chunk):
            body = [ls_task(project, n) for n in range(at, min(stop, at + chunk))]
            reply = await http.post(f"/api/projects/{ls_project}/import", json=body)
            if reply.status_code != 201:
                raise RuntimeError(f"Label Studio import: {reply.status_code} {reply.text[:300]}")
    return time.perf_counter() - began


async def ls_export(ls: Any, ls_project: int) -> dict[str, Any]:
    """Label Studio's JSON export of the project, streamed to a file: wall time, bytes, tasks, server RSS."""
    with tempfile.TemporaryDirectory(prefix="ls-export-") as folder:
        out = Path(folder) / "export.json"
        async with ls.client() as http:
            with RssSampler(ls.pid) as rss:
                began = time.perf_counter()
                async with http.stream("GET", f"/api/projects/{ls_project}/export",
                                       params={"exportType": "JSON"}) as reply:
                    if reply.status_code != 200:
                        raise RuntimeError(f"Label Studio export: {reply.status_code} {(await reply.aread())[:300]!r}")
                    with out.open("wb") as f:
                        async for part in reply.aiter_bytes(1 << 20):
                            f.write(part)
                wall = time.perf_counter() - began
        tasks = json.loads(out.read_bytes())
        annotations = sum(len(t.get("annotations", [])) for t in tasks)
        return {"tasks": len(tasks), "annotations": annotations, "bytes": out.stat().st_size,
                "wall_s": round(wall, 3), "server_rss_before_mib": round(rss.before, 1),
                "server_peak_rss_mib": round(rss.peak, 1), "server_rss_delta_mib": round(rss.peak - rss.before, 1)}


async def child_build(url: str, project: str, fmt: str, data_dir: str) -> dict[str, Any]:
    from annotary_common.db import create_pool
    from annotary_common.settings import CommonSettings
    from annotary_common.storage import LocalObjectStore
    from annotary_export.service_layer.exports import build_export, create_export, get_export

    pool = await create_pool(url, "export", max_size=4)
    schema = json.dumps({"labels": [{"name": n} for n in LABELS]})
    async with LocalObjectStore(CommonSettings(object_store="local", data_dir=Path(data_dir))) as store:
        record = await create_export(pool, project, fmt, schema, "bench")
        before = _rss_mib()
        started = time.perf_counter()
        assert await build_export(pool, store, record.export_id)
        wall = time.perf_counter() - started
        done = await get_export(pool, record.export_id)
    await pool.close()
    peak = _peak_rss_mib()
    return {"status": done.status, "error": done.error, "items": done.item_count,
            "annotations": done.annotation_count, "bytes": done.byte_size, "wall_s": round(wall, 3),
            "items_per_s": round(done.item_count / wall) if wall else None,
            "peak_rss_mib": round(peak, 1), "build_rss_delta_mib": round(peak - before, 1)}


def run_child(url: str, project: uuid.UUID, fmt: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="export-bench-") as data_dir:
        out = subprocess.run([sys.executable, __file__, "--child", url, str(project), fmt, data_dir],
                             check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _ratio(num: float, den: float) -> float | None:
    return round(num / den, 2) if den else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1k and 5k items; Label Studio only with --with-ls")
    parser.add_argument("--sizes", default="")
    parser.add_argument("--formats", default="coco,jsonl,spacy")
    parser.add_argument("--no-ls", action="store_true", help="leave Label Studio out")
    parser.add_argument("--with-ls", action="store_true", help="Label Studio in --quick too")
    parser.add_argument("--ls-db", default="sqlite", help="Label Studio's database: sqlite (its default) or postgres")
    parser.add_argument("--ls-import-budget-s", type=float, default=900.0,
                        help="skip a Label Studio size whose projected import time is longer")
    parser.add_argument("--ls-chunk", type=int, default=2000, help="tasks per Label Studio import request")
    parser.add_argument("--child", nargs=4, metavar=("URL", "PROJECT", "FORMAT", "DATA_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        url, project, fmt, data_dir = args.child
        sys.stdout.write(json.dumps(asyncio.run(child_build(url, project, fmt, data_dir))) + "\n")
        return 0

    import asyncpg

    sizes = sorted(int(s) for s in (args.sizes or ("1000,5000" if args.quick else "10000,100000")).split(","))
    formats = args.formats.split(",")
    with_ls = not args.no_ls and (args.with_ls or not args.quick)
    name = f"annotary_export_bench_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f"CREATE DATABASE {name}"))
    url = PG.rsplit("/", 1)[0] + f"/{name}"
    runs: list[dict[str, Any]] = []
    peer: dict[str, Any] = {"skipped": "--no-ls, or --quick without --with-ls"} if not with_ls else {}
    try:
        with contextlib.ExitStack() as stack:
            ls = ls_project = None
            ls_loaded = 0
            ls_rate = 0.0  # seconds per task imported, from the previous size
            if with_ls:
                from bench import labelstudio

                try:
                    ls = stack.enter_context(labelstudio.running(args.ls_db, PG.rsplit("/", 1)[0], None))
                    ls_project = asyncio.run(_ls_project(ls))
                    peer = {"version": labelstudio.VERSION, "database": args.ls_db, "server": "runserver (pip)",
                            "export_api": "GET /api/projects/{id}/export?exportType=JSON", "sizes": {}}
                except Exception as exc:  # the peer failing is reported, ours is still measured
                    peer = {"error": repr(exc)}
            for size in sizes:
                images, texts = uuid.uuid4(), uuid.uuid4()
                started = time.perf_counter()
                asyncio.run(seed(url, images, size))
                if "spacy" in formats:
                    asyncio.run(seed(url, texts, size, "text"))
                seed_s = time.perf_counter() - started
                for fmt in formats:
                    project = texts if fmt == "spacy" else images
                    runs.append({"format": fmt, "accepted": size, "modality": "text" if fmt == "spacy" else "image",
                                 "seed_s": round(seed_s, 2), **run_child(url, project, fmt)})
                if ls is None or ls_project is None:
                    continue
                todo = size - ls_loaded
                projected = todo * ls_rate
                if ls_rate and projected > args.ls_import_budget_s:
                    peer["sizes"][str(size)] = {"skipped": f"importing {todo} more tasks would take ~{projected:.0f}s "
                                                           f"at the rate measured ({1 / ls_rate:.0f} tasks/s), over "
                                                           f"--ls-import-budget-s {args.ls_import_budget_s:.0f}"}
                    continue
                try:
                    import_s = asyncio.run(ls_import(ls, ls_project, images, ls_loaded, size, args.ls_chunk))
                    ls_rate = import_s / todo
                    ls_loaded = size
                    exported = asyncio.run(ls_export(ls, ls_project))
                    peer["sizes"][str(size)] = {"import_s": round(import_s, 1), "import_tasks": todo,
                                                "import_tasks_per_s": round(todo / import_s, 1), "export": exported}
                except Exception as exc:
                    peer["sizes"][str(size)] = {"error": repr(exc)}
    finally:
        asyncio.run(admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    flat: dict[str, Any] = {}
    for fmt in formats:
        mine = sorted((r for r in runs if r["format"] == fmt), key=lambda r: r["accepted"])
        small, large = mine[0], mine[-1]
        growth = (large["peak_rss_mib"] - small["peak_rss_mib"]) / small["peak_rss_mib"]
        flat[fmt] = {"from": small["accepted"], "to": large["accepted"], "peak_growth": round(growth, 4),
                     "flat_within_10pct": growth <= 0.10}
    comparison = []
    for size_key, entry in (peer.get("sizes") or {}).items():
        ls_export_run = entry.get("export")
        if not ls_export_run:
            continue
        for fmt in ("jsonl", "coco"):
            ours = next((r for r in runs if r["format"] == fmt and r["accepted"] == int(size_key)), None)
            if ours is None:
                continue
            comparison.append({
                "accepted": int(size_key), "annotary_format": fmt, "annotary_wall_s": ours["wall_s"],
                "label_studio_wall_s": ls_export_run["wall_s"],
                "annotary_over_ls_wall": _ratio(ours["wall_s"], ls_export_run["wall_s"]),
                "times_faster_than_ls": _ratio(ls_export_run["wall_s"], ours["wall_s"]),
                "annotary_build_rss_delta_mib": ours["build_rss_delta_mib"],
                "ls_server_rss_delta_mib": ls_export_run["server_rss_delta_mib"],
                "annotary_over_ls_memory_delta": _ratio(ours["build_rss_delta_mib"],
                                                        ls_export_run["server_rss_delta_mib"]),
                "annotary_peak_rss_mib": ours["peak_rss_mib"],
                "ls_server_peak_rss_mib": ls_export_run["server_peak_rss_mib"],
                "goal_10x_faster": (ls_export_run["wall_s"] / ours["wall_s"]) >= 10 if ours["wall_s"] else None})
    sys.stdout.write(json.dumps({"benchmark": "export", "runs": runs, "memory_flat": flat, "label_studio": peer,
                                 "vs_label_studio": comparison, "python": sys.version.split()[0],
                                 "cpus": os.cpu_count()}, indent=2) + "\n")
    return 0 if all(f["flat_within_10pct"] for f in flat.values()) else 1


async def _ls_project(ls: Any) -> int:
    async with ls.client() as http:
        reply = await http.post("/api/projects/", json={"title": "export-bench", "label_config": LS_CONFIG})
        if reply.status_code != 201:
            raise RuntimeError(f"Label Studio project: {reply.status_code} {reply.text[:300]}")
        return int(reply.json()["id"])


if __name__ == "__main__":
    raise SystemExit(main())
