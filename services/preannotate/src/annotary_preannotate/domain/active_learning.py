"""Active-learning scores (a higher score = label it sooner) and batch selection. Pure numpy.

Per-item uncertainty from class probabilities: least confidence, margin and entropy, each in 0..1.
Representativeness: information density (mean cosine similarity to an item's nearest neighbours in the pool), which
weights uncertainty so that outliers (noise, the ambiguous odd one) do not crowd out typical items.
Batch diversity: k-center greedy over embeddings. Hybrid: uncertainty-weighted k-center.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def _as_probs(probabilities: FloatArray | list[list[float]]) -> FloatArray:
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim == 1:
        p = p[None, :]
    return p


def least_confidence(probabilities: FloatArray | list[list[float]]) -> FloatArray:
    """1 - max p, rescaled so that a uniform prediction scores 1."""
    p = _as_probs(probabilities)
    k = p.shape[1]
    if k < 2:
        return np.zeros(p.shape[0])
    out: FloatArray = (1.0 - p.max(axis=1)) * k / (k - 1)
    return np.clip(out, 0.0, 1.0)


def margin(probabilities: FloatArray | list[list[float]]) -> FloatArray:
    """1 - (p_top1 - p_top2)."""
    p = _as_probs(probabilities)
    if p.shape[1] < 2:
        return np.zeros(p.shape[0])
    top = np.sort(p, axis=1)
    out: FloatArray = 1.0 - (top[:, -1] - top[:, -2])
    return np.clip(out, 0.0, 1.0)


def entropy(probabilities: FloatArray | list[list[float]]) -> FloatArray:
    """Shannon entropy divided by log(K)."""
    p = _as_probs(probabilities)
    k = p.shape[1]
    if k < 2:
        return np.zeros(p.shape[0])
    q = np.clip(p, 1e-12, 1.0)
    out: FloatArray = -(q * np.log(q)).sum(axis=1) / np.log(k)
    return np.clip(out, 0.0, 1.0)


UNCERTAINTY: dict[str, Callable[[FloatArray | list[list[float]]], FloatArray]] = {
    "least_confidence": least_confidence,
    "margin": margin,
    "entropy": entropy,
}


def _min_sq_dist(points: FloatArray, centers: FloatArray) -> FloatArray:
    out = np.full(points.shape[0], np.inf)
    for start in range(0, centers.shape[0], 256):
        c = centers[start:start + 256]
        d = (points ** 2).sum(1)[:, None] - 2 * points @ c.T + (c ** 2).sum(1)[None, :]
        out = np.minimum(out, d.min(axis=1))
    clipped: FloatArray = np.maximum(out, 0.0)
    return clipped


def k_center_greedy(pool: FloatArray, labeled: FloatArray, k: int,
                    weights: FloatArray | None = None) -> list[int]:
    """Indices into ``pool`` of ``k`` points, each the farthest (times its weight) from everything chosen
    so far and from ``labeled`` (Sener & Savarese's core-set greedy)."""
    pool = np.asarray(pool, dtype=np.float64)
    k = min(k, pool.shape[0])
    if k <= 0:
        return []
    if labeled is not None and len(labeled):
        dist = _min_sq_dist(pool, np.asarray(labeled, dtype=np.float64))
    else:
        dist = np.full(pool.shape[0], np.inf)
    w = np.ones(pool.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    chosen: list[int] = []
    for _ in range(k):
        gain = np.where(np.isinf(dist), 1e300, dist) * w
        if chosen:
            gain[chosen] = -1.0
        i = int(np.argmax(gain))
        chosen.append(i)
        dist = np.minimum(dist, _min_sq_dist(pool, pool[i:i + 1]))
    return chosen


def information_density(points: FloatArray, reference: FloatArray, neighbours: int = 20) -> FloatArray:
    """Per point, the mean cosine similarity to its ``neighbours`` most similar reference points (the point itself,
    when it is among them, left out), clipped to 0..1: high in dense regions of the pool, low for outliers."""
    x = np.asarray(points, dtype=np.float64)
    ref = np.asarray(reference, dtype=np.float64)
    if x.shape[0] == 0 or ref.shape[0] == 0:
        return np.ones(x.shape[0])
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    ref = ref / np.maximum(np.linalg.norm(ref, axis=1, keepdims=True), 1e-12)
    k = max(1, min(neighbours, ref.shape[0]))
    out = np.empty(x.shape[0])
    for start in range(0, x.shape[0], 512):
        sims = x[start:start + 512] @ ref.T
        sims[sims > 1.0 - 1e-6] = -np.inf  # the point itself (or an exact copy) says nothing of its region
        top = np.sort(sims, axis=1)[:, -k:]
        top[np.isinf(top)] = 0.0
        out[start:start + 512] = top.mean(axis=1)
    clipped: FloatArray = np.clip(out, 0.0, 1.0)
    return clipped


def density_weighted(uncertainty: FloatArray, density: FloatArray, power: float = 2.0) -> FloatArray:
    """Uncertainty times density to the ``power`` (Settles and Craven's information density)."""
    out: FloatArray = np.asarray(uncertainty, dtype=np.float64) * np.asarray(density, dtype=np.float64) ** power
    return out


def hybrid(pool: FloatArray, labeled: FloatArray, probabilities: FloatArray, k: int,
           candidates_factor: int = 5, strategy: str = "margin") -> list[int]:
    """Uncertainty first, diversity second: the ``k * candidates_factor`` most uncertain pool items,
    then k-center greedy among them weighted by their uncertainty."""
    return hybrid_from_scores(pool, labeled, UNCERTAINTY[strategy](probabilities), k, candidates_factor)


def hybrid_from_scores(pool: FloatArray, labeled: FloatArray, scores: FloatArray, k: int,
                       candidates_factor: int = 5) -> list[int]:
    """:func:`hybrid` from per-item uncertainty scores already computed."""
    scores = np.asarray(scores, dtype=np.float64)
    n = min(len(scores), max(k, k * candidates_factor))
    top = np.argsort(-scores, kind="stable")[:n]
    picked = k_center_greedy(np.asarray(pool)[top], labeled, k, weights=0.1 + scores[top])
    return [int(top[i]) for i in picked]


def rank_scores(order: list[int], n: int) -> FloatArray:
    """Turn a selection order into queue scores in (0, 1]: the first pick scores highest, unpicked 0."""
    out = np.zeros(n)
    for rank, i in enumerate(order):
        out[i] = 1.0 - rank / max(len(order), 1) * 0.999
    return out
