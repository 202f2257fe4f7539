"""Issue 10, done-when 1 (reduced size): 600 submissions from 10 clients while every service is SIGKILLed twice,
the broker restarts on s3:// (keeps its log: a canary's events must survive) and on memory:// (loses it, once
before the main import and once mid-load) and Postgres restarts (immediate).

The harness (annotary_cli.chaos) starts a stack of its own, Postgres included, so nothing here touches the
session's stack or the machine's Postgres. Afterwards every submission was answered once (accepted or refused),
each accepted item is accepted exactly once in the orchestrator, qa, export and on the bus (read from the start),
and nothing is stuck.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from annotary_cli.chaos import ChaosConfig, run_chaos
from annotary_cli.stack import SERVICES

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _diagnosis(summary: dict[str, object], logs: Path) -> str:
    """What a failure shows (CI keeps only the message, and only part of it): the verdict and its examples first on
    one line, the schedule on the next, then each log's lines that name an id in the examples (the first 40 in all)
    and its last 3 warnings or errors."""
    head = {k: v for k, v in summary.items() if k != "actions"}
    ids = set(UUID.findall(json.dumps(summary.get("examples", {}))))
    named: list[str] = []
    warnings: list[str] = []
    for log in sorted(logs.glob("*.log")):
        lines = log.read_text(errors="replace").splitlines()
        named += [f"{log.stem}: {line[:400]}" for line in lines if ids and any(i in line for i in ids)]
        warnings += [f"{log.stem}: {line[:300]}" for line in
                     [line for line in lines if '"level": "warning"' in line or '"level": "error"' in line][-3:]]
    return "\n".join([json.dumps(head), json.dumps(summary.get("actions")), *named[:40], *warnings])


@pytest.mark.chaos
def test_chaos_reduced(tmp_path: Path) -> None:
    config = ChaosConfig(
        submissions=int(os.environ.get("ANNOTARY_CHAOS_SUBMISSIONS", "600")),
        clients=10,
        kills_per_service=2,
        broker_restarts=("memory",),  # mid-load; the set-up restarts it on s3:// (keeps its log), then memory://
        postgres_restarts=1,
        seed=int(os.environ.get("ANNOTARY_CHAOS_SEED", "0")),
        keep_logs=tmp_path / "logs",
    )
    summary = run_chaos(config)
    (tmp_path / "summary.json").write_text(json.dumps(summary, indent=2))
    text = _diagnosis(summary, tmp_path / "logs")
    assert summary["kills"] == {s: 2 for s in SERVICES}, text
    assert summary["broker_restarts"] == {"s3": 1, "memory": 2}, text
    assert summary["s3_kept_log"] is True, text
    assert summary["postgres_restarts"] == 1, text
    assert summary["submissions"]["unresolved"] == 0, text
    assert summary["submissions"]["accepted"] == summary["submissions"]["target"], text
    assert summary["lost"] == 0, text
    assert summary["duplicated"] == 0, text
    assert summary["stuck"] == 0, text
    assert summary["disagree"] == 0, text
