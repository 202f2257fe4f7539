"""Export benchmark: N accepted annotations exported as COCO and JSONL by the export service's own build
(server-side cursor, streaming writers, upload from a temp file), on the machine's Postgres; wall time and peak
memory of the build, and whether the peak stays flat (within 10 %) from the smallest to the largest N.

    .venv/bin/python bench/export_bench.py [--sizes 10000,100000] [--formats coco,jsonl]

Prints one JSON document. Each build runs in a child process of its own, so its peak RSS (``ru_maxrss``) is the
build's alone, not the seeding's; ``peak_rss_mib`` is the child's peak, ``build_rss_delta_mib`` the growth over the
child's RSS just before the build started (interpreter, imports and the pool).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
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

PG = os.environ.get("ANNOTARY_BENCH_PG", os.environ.get("ANNOTARY_TEST_PG",
                                                         "postgresql://postgres@127.0.0.1:5432/postgres"))
LABELS = ["person", "car", "dog", "cat"]


def _rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def seed(url: str, project: uuid.UUID, count: int) -> None:
    """``count`` accepted image annotations (two boxes and a polygon each), written with COPY in chunks."""
    import asyncpg

    from annotary.events.v1 import events_pb2
    from annotary_common.db import create_pool, migrate

    pool = await create_pool(url, "export", max_size=2)
    await migrate(pool, "export", "annotary_export")
    now = datetime.now(UTC)
    chunk = 10_000
    async with pool.acquire() as conn:
        conn: asyncpg.Connection  # type: ignore[no-redef]
        for start in range(0, count, chunk):
            rows = []
            for n in range(start, min(count, start + chunk)):
                item_id = uuid.uuid5(project, str(n))
                external = f"img_{n:07d}.jpg"
                snap = events_pb2.ItemSnapshot(
                    item_id=str(item_id), project_id=str(project), external_id=external, modality="image",
                    media_uri=f"s3://bench/media/{n:07d}.jpg", width=640, height=480, media_type="image/jpeg",
                    meta_json='{"source": "bench"}')
                result = [
                    {"id": "a", "type": "bbox", "label": LABELS[n % 4], "x": n % 300, "y": 20, "w": 120, "h": 80},
                    {"id": "b", "type": "bbox", "label": LABELS[(n + 1) % 4], "x": 10, "y": n % 200, "w": 50,
                     "h": 60},
                    {"id": "c", "type": "polygon", "label": LABELS[(n + 2) % 4],
                     "points": [[100, 100], [180, 110], [160, 190], [90, 170]]},
                ]
                rows.append((item_id, project, snap.SerializeToString(), json.dumps(result), 0.9, 1,
                             ["u1", "u2"], now, external, 3, ["detector@7"], "box_f1@0.5", "consensus"))
            await conn.copy_records_to_table(
                "accepted", records=rows,
                columns=["item_id", "project_id", "snapshot", "result_json", "agreement", "round", "annotators",
                         "accepted_at", "external_id", "schema_version", "prelabel_model_versions",
                         "agreement_metric", "decided_by"])
        await conn.execute("ANALYZE accepted")
    await pool.close()


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
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--formats", default="coco,jsonl")
    parser.add_argument("--child", nargs=4, metavar=("URL", "PROJECT", "FORMAT", "DATA_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        url, project, fmt, data_dir = args.child
        sys.stdout.write(json.dumps(asyncio.run(child_build(url, project, fmt, data_dir))) + "\n")
        return 0

    import asyncpg

    sizes = [int(s) for s in args.sizes.split(",")]
    formats = args.formats.split(",")
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
    try:
        for size in sizes:
            project = uuid.uuid4()
            started = time.perf_counter()
            asyncio.run(seed(url, project, size))
            seed_s = time.perf_counter() - started
            for fmt in formats:
                runs.append({"format": fmt, "accepted": size, "seed_s": round(seed_s, 2),
                             **run_child(url, project, fmt)})
    finally:
        asyncio.run(admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    flat: dict[str, Any] = {}
    for fmt in formats:
        mine = sorted((r for r in runs if r["format"] == fmt), key=lambda r: r["accepted"])
        small, large = mine[0], mine[-1]
        growth = (large["peak_rss_mib"] - small["peak_rss_mib"]) / small["peak_rss_mib"]
        flat[fmt] = {"from": small["accepted"], "to": large["accepted"], "peak_growth": round(growth, 4),
                     "flat_within_10pct": growth <= 0.10}
    sys.stdout.write(json.dumps({"benchmark": "export", "runs": runs, "memory_flat": flat,
                                 "python": sys.version.split()[0], "cpus": os.cpu_count()}, indent=2) + "\n")
    return 0 if all(f["flat_within_10pct"] for f in flat.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
