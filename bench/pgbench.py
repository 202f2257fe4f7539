"""pgbench -N on the same Postgres: the write-transaction ceiling the lease+submit throughput is compared with."""

from __future__ import annotations

import re
import shutil
import subprocess
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

from annotary_cli.infra import drop_database, ensure_database
from bench.stats import log

_TPS = re.compile(r"tps = ([0-9.]+) \(without initial connection time\)")
_LAT = re.compile(r"latency average = ([0-9.]+) ms")


def run(pg_server: str, clients: Sequence[int], seconds: int, scale: int = 10) -> dict[str, Any]:
    """``pgbench -i -s scale`` on a scratch database, then ``-N -c C -j 2 -T seconds`` for each C."""
    binary = shutil.which("pgbench")
    if binary is None:
        return {"error": "pgbench not found (apt-get install postgresql-client)"}
    url = urlparse(pg_server)
    name = f"annotary_bench_pgbench_{uuid.uuid4().hex[:8]}"
    conn = ["-h", url.hostname or "127.0.0.1", "-p", str(url.port or 5432), "-U", url.username or "postgres"]
    ensure_database(f"{pg_server}/{name}")
    try:
        subprocess.run([binary, *conn, "-i", "-q", "-s", str(scale), name], check=True, capture_output=True,
                       timeout=300)
        runs: dict[str, Any] = {}
        for c in clients:
            out = subprocess.run(
                [binary, *conn, "-N", "-c", str(c), "-j", str(min(2, c)), "-T", str(seconds), name],
                capture_output=True, text=True, timeout=seconds + 120,
            )
            tps = _TPS.search(out.stdout)
            lat = _LAT.search(out.stdout)
            if out.returncode != 0 or tps is None:
                runs[str(c)] = {"error": (out.stderr or out.stdout)[-500:]}
                log.warning("pgbench -c %d failed: %s", c, runs[str(c)]["error"])
                continue
            runs[str(c)] = {"tps": round(float(tps.group(1)), 1),
                            "latency_avg_ms": float(lat.group(1)) if lat else None}
            log.info("pgbench -N -c %d: %.0f tps", c, runs[str(c)]["tps"])
        return {"command": f"pgbench -N -c C -j min(2,C) -T {seconds} (scale {scale})", "clients": runs}
    finally:
        drop_database(f"{pg_server}/{name}")
