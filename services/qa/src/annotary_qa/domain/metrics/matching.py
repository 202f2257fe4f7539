"""Optimal one-to-one matching of two region sets at a similarity threshold (Hungarian algorithm).

A pair is eligible when its similarity is >= the threshold (callers give label mismatches -inf). Among
all one-to-one matchings of eligible pairs the one with the most pairs wins, ties broken by the largest
total similarity: scipy's ``linear_sum_assignment`` on weights ``K + similarity`` (K > any possible total
of similarities) finds exactly that. Tests compare with brute force over every matching.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment


@dataclass(frozen=True)
class Match:
    pairs: tuple[tuple[int, int, float], ...]  # (index in a, index in b, similarity)
    n_a: int  # the reference ("ground truth") side
    n_b: int  # the compared ("prediction") side

    @property
    def tp(self) -> int:
        return len(self.pairs)

    @property
    def precision(self) -> float:
        """Matched share of b; with b empty: 1.0 when a is empty too, else 0.0."""
        return self.tp / self.n_b if self.n_b else (1.0 if self.n_a == 0 else 0.0)

    @property
    def recall(self) -> float:
        """Matched share of a; with a empty: 1.0 when b is empty too, else 0.0."""
        return self.tp / self.n_a if self.n_a else (1.0 if self.n_b == 0 else 0.0)

    @property
    def f1(self) -> float:
        """2 TP / (|a| + |b|); 1.0 when both sets are empty."""
        total = self.n_a + self.n_b
        return 2 * self.tp / total if total else 1.0

    @property
    def mean_similarity(self) -> float:
        """Mean similarity (e.g. IoU) of the matched pairs; NaN when nothing matched."""
        return math.fsum(s for _, _, s in self.pairs) / self.tp if self.pairs else math.nan


def match(similarity: np.ndarray, threshold: float) -> Match:
    """Match rows (a) to columns (b) of a similarity matrix; pairs below ``threshold`` never match."""
    sim = np.asarray(similarity, dtype=float)
    if sim.ndim != 2:
        raise ValueError("similarity must be a 2-D matrix")
    n_a, n_b = sim.shape
    if n_a == 0 or n_b == 0:
        return Match((), n_a, n_b)
    eligible = np.isfinite(sim) & (sim >= threshold)
    if not eligible.any():
        return Match((), n_a, n_b)
    bonus = float(min(n_a, n_b) + 1)  # > any total of similarities in [0, 1]... and beyond, see below
    bonus += float(np.abs(np.where(eligible, sim, 0.0)).sum())
    weights = np.where(eligible, bonus + np.where(eligible, sim, 0.0), 0.0)
    rows, cols = linear_sum_assignment(weights, maximize=True)
    pairs = tuple((int(r), int(c), float(sim[r, c])) for r, c in zip(rows, cols, strict=True) if eligible[r, c])
    return Match(tuple(sorted(pairs)), n_a, n_b)
