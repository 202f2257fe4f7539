"""Chaos workload at full size (issue 10): 10,000 submissions from 50 clients while every service is SIGKILLed
twice, the broker restarts on s3:// (keeps its log) and on memory:// (loses it) and Postgres restarts
(immediate). The harness is annotary_cli.chaos (the integration test runs it at a reduced size); it starts a
stack of its own, Postgres included.

    .venv/bin/python -m bench.chaos [--submissions 10000] [--clients 50] [--seed 0] [--quick]

Prints one JSON document (submissions, kills, crashes, broker and Postgres restarts, lost, duplicated, stuck) and
saves it under bench/results/chaos-<time>.json; exits 1 when anything was lost, duplicated or stuck.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import time
from pathlib import Path

from annotary_cli.chaos import ChaosConfig, run_chaos

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--kills-per-service", type=int, default=2)
    parser.add_argument("--postgres-restarts", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="the reduced size of make test: 600 from 10 clients")
    args = parser.parse_args(argv)
    if args.quick:
        args.submissions, args.clients = 600, 10
    # A SIGTERM (a timeout, a kill) unwinds like Ctrl-C, so the harness stops the stack it started instead of
    # leaving six services behind
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    RESULTS.mkdir(exist_ok=True)
    summary = run_chaos(
        ChaosConfig(
            submissions=args.submissions,
            clients=args.clients,
            kills_per_service=args.kills_per_service,
            postgres_restarts=args.postgres_restarts,
            seed=args.seed,
            load_timeout_s=3600.0,
            settle_timeout_s=600.0,
            keep_logs=RESULTS / f"chaos-{stamp}-logs",
        )
    )
    text = json.dumps(summary, indent=2)
    (RESULTS / f"chaos-{stamp}.json").write_text(text + "\n")
    sys.stdout.write(text + "\n")
    ok = all(summary[k] == 0 for k in ("lost", "duplicated", "stuck", "disagree"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
