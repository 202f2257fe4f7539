"""The issue's goals, checked against a run's figures, and the ratios they rest on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.stats import ratio

LEASE_P95_MS = 20.0
PGBENCH_SHARE = 0.7
LS_FACTOR = 10.0
POOL = 10  # the orchestrator's Postgres pool (ANNOTARY_DATABASE_POOL_SIZE default): the DB clients it really uses


def _get(doc: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(doc, dict) or key not in doc:
            return None
        doc = doc[key]
    return doc


def _pgbench_tps(doc: dict[str, Any], clients: int) -> tuple[int | None, float | None]:
    """pgbench tps at ``clients``, or at the largest measured count below it (max_connections caps pgbench)."""
    measured = {int(c): r["tps"] for c, r in (_get(doc, "pgbench", "clients") or {}).items() if "tps" in r}
    usable = [c for c in measured if c <= clients]
    if not usable:
        return None, None
    c = max(usable)
    return c, measured[c]


def _vs_pgbench(doc: dict[str, Any], run: dict[str, Any], n: int) -> dict[str, Any]:
    pairs = run["pairs_per_s"]
    sustained = run.get("sustained_pairs_per_s")
    same_c, same_tps = _pgbench_tps(doc, n)
    pool_c, pool_tps = _pgbench_tps(doc, min(n, POOL))
    return {
        "pairs_per_s": pairs,
        "write_tx_per_s": run["write_tx_per_s"],
        "sustained_pairs_per_s": sustained,
        "same_client_count": {"pgbench_clients": same_c, "pgbench_tps": same_tps,
                              "pairs_per_tps": ratio(pairs, same_tps), "write_tx_per_tps": ratio(2 * pairs, same_tps),
                              "sustained_pairs_per_tps": ratio(sustained, same_tps)},
        "orchestrator_pool_view": {"pgbench_clients": pool_c, "pgbench_tps": pool_tps,
                                   "pairs_per_tps": ratio(pairs, pool_tps),
                                   "write_tx_per_tps": ratio(2 * pairs, pool_tps)},
    }


def _top_cpu(run: dict[str, Any] | None) -> dict[str, float]:
    per_pair = (run or {}).get("cpu_ms_per_pair") or {}
    parts = {k: v for k, v in per_pair.items() if k not in ("total", "other_processes")}
    return dict(sorted(parts.items(), key=lambda kv: -kv[1])[:4])


def _cpu_bound(run: dict[str, Any], view: dict[str, Any]) -> str | None:
    per_pair = run.get("cpu_ms_per_pair") or {}
    cores = (run.get("cpu_s") or {}).get("cores") or 0
    ours = per_pair.get("total")
    tps = view["same_client_count"]["pgbench_tps"]
    if not ours or not cores or not tps:
        return None
    top = ", ".join(f"{k} {v:.1f}" for k, v in _top_cpu(run).items())
    db = run.get("db_per_pair") or {}
    writes = db.get("rows_inserted", 0) + db.get("rows_updated", 0)
    return (f"CPU-bound: a pair costs {ours:.1f} ms of CPU in our processes ({top} ms), so {cores} cores fit at most "
            f"~{1000 * cores / ours:.0f} pairs/s; {tps:.0f} tps leaves pgbench {1000 * cores / tps:.2f} ms per "
            f"transaction. End to end a pair costs {db.get('commits')} Postgres commits and {writes:.0f} row writes "
            "(the two synchronous transactions plus outbox, inbox, QA's decision, the accepted item, export); a "
            "pgbench -N transaction is 1 commit and 2 row writes")


def _goal(gid: str, text: str, measured: float | None, target: float, higher_is_better: bool,
          **detail: Any) -> dict[str, Any]:
    passed = None if measured is None else measured >= target if higher_is_better else measured < target
    return {"id": gid, "goal": text, "measured": measured, "target": target, "pass": passed, **detail}


def evaluate(doc: dict[str, Any], counts: Sequence[int]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    ratios: dict[str, Any] = {"vs_pgbench": {}, "vs_label_studio": {}}
    goals: list[dict[str, Any]] = []
    ours = doc.get("annotary") or {}

    # Goal 1: lease p95 under 20 ms with 200 annotators each leasing about once a second.
    for iface in ("rest", "grpc"):
        run = _get(ours, "paced", iface)
        capacity = max((r["pairs_per_s"] for r in (ours.get(iface) or {}).values()), default=None)
        offered = run["annotators"] / run["period_s"] if run else None
        goals.append(_goal(
            f"paced_lease_p95_{iface}", f"lease p95 < {LEASE_P95_MS:g} ms, {run and run['annotators']} annotators "
            f"each leasing about once a second, over {iface.upper()}",
            _get(run, "lease", "p95_ms"), LEASE_P95_MS, higher_is_better=False,
            leases_per_s=_get(run, "leases_per_s"), offered_per_s=offered, saturation_pairs_per_s=capacity,
            cpu_ms_per_pair_top=_top_cpu(run),
            why=(f"{offered:.0f} lease+submit pairs/s offered against a saturation throughput of {capacity:.0f} "
                 "pairs/s: the system runs at or over capacity, so the latency is queueing"
                 if offered and capacity and offered >= 0.8 * capacity else None)))

    # Goal 2: at saturation, lease+submit pairs/s at least 70% of pgbench -N tps at the same client count.
    for iface in ("grpc", "rest"):
        runs = ours.get(iface) or {}
        ratios["vs_pgbench"][iface] = {n: _vs_pgbench(doc, run, int(n)) for n, run in runs.items()}
        if not runs:
            goals.append(_goal(f"saturation_vs_pgbench_{iface}", "saturation", None, PGBENCH_SHARE, True))
            continue
        best_n = max(runs, key=lambda n: runs[n]["pairs_per_s"])
        view = ratios["vs_pgbench"][iface][best_n]
        goals.append(_goal(
            f"saturation_vs_pgbench_{iface}",
            f"at saturation ({best_n} annotators, {iface.upper()}) lease+submit pairs/s >= {PGBENCH_SHARE:g} x "
            f"pgbench -N tps at the same client count",
            view["same_client_count"]["pairs_per_tps"], PGBENCH_SHARE, higher_is_better=True,
            counting="a pair (lease + submit) is 2 write transactions; measured = pairs/s / tps (strict view); "
                     "write_tx_per_tps doubles it",
            write_tx_view=view["same_client_count"]["write_tx_per_tps"],
            sustained_view=view["same_client_count"]["sustained_pairs_per_tps"],
            pgbench_clients=view["same_client_count"]["pgbench_clients"],
            orchestrator_pool_view=view["orchestrator_pool_view"]["pairs_per_tps"],
            cpu_ms_per_pair_top=_top_cpu(runs[best_n]), why=_cpu_bound(runs[best_n], view)))

    # Goals 3-5: against Label Studio.
    compare = ours.get("compare") or {}
    for db, theirs in (doc.get("label_studio") or {}).items():
        if not isinstance(theirs, dict) or "import" not in theirs:
            continue
        r: dict[str, Any] = {"import_throughput_ours_over_theirs": {}, "submit_throughput_ours_over_theirs": {}}
        for n, figure in theirs["import"].items():
            r["import_throughput_ours_over_theirs"][n] = ratio(_get(compare, "import", n, "items_per_s"),
                                                               figure["items_per_s"], 2)
        r["next_task_p95_theirs_over_ours"] = ratio(_get(theirs, "next_task", "next", "p95_ms"),
                                                    _get(compare, "next_task", "next", "p95_ms"), 2)
        r["next_task_p95_theirs_over_ours_both_new_connection"] = ratio(
            _get(theirs, "next_task", "next", "p95_ms"), _get(compare, "next_task_new_connection", "next", "p95_ms"), 2)
        for c, figure in theirs["submit"].items():
            r["submit_throughput_ours_over_theirs"][c] = ratio(_get(compare, "submit", c, "per_s"),
                                                               figure["per_s"], 2)
        ratios["vs_label_studio"][db] = r
        imports = [v for v in r["import_throughput_ours_over_theirs"].values() if v is not None]
        big = str(max(int(n) for n in theirs["import"]))
        mine = _get(compare, "import", big) or {}
        goals.append(_goal(f"import_vs_label_studio_{db}",
                           f"import throughput >= {LS_FACTOR:g} x Label Studio ({db}), every size (the smallest "
                           "ratio counts)",
                           min(imports) if imports else None, LS_FACTOR, True,
                           by_size=r["import_throughput_ours_over_theirs"],
                           why=(f"{big} items: ours {mine.get('items_per_s')}/s, theirs "
                                f"{theirs['import'][big]['items_per_s']}/s; our REST requests took "
                                f"{mine.get('requests_s')} s, then the orchestrator needed {mine.get('queue_lag_s')} s "
                                "more to consume item.ingested (in runs)" if mine else None)))
        goals.append(_goal(f"next_task_p95_vs_label_studio_{db}",
                           f"next-task p95 <= 1/{LS_FACTOR:g} of Label Studio's ({db}); measured = theirs / ours",
                           r["next_task_p95_theirs_over_ours"], LS_FACTOR, True,
                           ours_ms=_get(compare, "next_task", "next", "p95_ms"),
                           theirs_ms=_get(theirs, "next_task", "next", "p95_ms"),
                           why=f"ours p50/p95 {_get(compare, 'next_task', 'next', 'p50_ms')}/"
                               f"{_get(compare, 'next_task', 'next', 'p95_ms')} ms at rest (REST -> orchestrator "
                               f"gRPC -> Postgres; "
                               f"{_get(compare, 'next_task_during_preannotation', 'next', 'p95_ms')} ms p95 while "
                               f"the pre-annotation pass over the imports still ran), theirs "
                               f"{_get(theirs, 'next_task', 'next', 'p50_ms')}/"
                               f"{_get(theirs, 'next_task', 'next', 'p95_ms')} ms"))
        top = str(max(int(c) for c in theirs["submit"])) if theirs["submit"] else None
        goals.append(_goal(f"submit_8_clients_vs_label_studio_{db}",
                           f"submit throughput with {top} clients >= {LS_FACTOR:g} x Label Studio ({db})",
                           r["submit_throughput_ours_over_theirs"].get(top) if top else None, LS_FACTOR, True,
                           ours_per_s=_get(compare, "submit", top or "", "per_s"),
                           theirs_per_s=_get(theirs, "submit", top or "", "per_s"),
                           why="ours includes a lease before each submit (REST: auth, LeaseNextTask; then auth, qa "
                               "validation over gRPC, SubmitTask); theirs is one POST on a known task id, serialized "
                               "by its database"))
    return ratios, goals
