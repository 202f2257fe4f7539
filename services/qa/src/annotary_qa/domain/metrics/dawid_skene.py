"""Dawid-Skene (1979): each annotator's confusion matrix and the class priors, estimated by EM.

Used to weight the vote on a choice when the annotators of an item have a history in the project: an
annotator who often disagrees with the estimated truth counts for less. Smoothed with pseudo-counts so
that an annotator with little history stays close to "usually right".
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

PSEUDO_DIAGONAL = 2.0  # prior pseudo-counts: right twice...
PSEUDO_OFF = 1.0 / 2.0  # ...for every half wrong answer spread over the other classes
MAX_ITERATIONS = 100
TOLERANCE = 1e-8


@dataclass(frozen=True)
class DawidSkene:
    classes: tuple[Hashable, ...]
    posteriors: np.ndarray  # units x classes
    priors: np.ndarray  # classes
    confusion: dict[Hashable, np.ndarray]  # annotator -> true class x given class
    iterations: int

    def estimate(self, unit: int) -> Hashable:
        """The most probable class of a unit (ties: the class listed first)."""
        return self.classes[int(np.argmax(self.posteriors[unit]))]


def dawid_skene(units: Sequence[Mapping[Any, Any]], classes: Sequence[Hashable]) -> DawidSkene:
    """EM over ``units``, each a mapping annotator -> the class they gave; ``classes`` lists every class."""
    cls = tuple(dict.fromkeys(classes))
    index = {c: i for i, c in enumerate(cls)}
    annotators = tuple(dict.fromkeys(a for unit in units for a in unit))
    who = {a: i for i, a in enumerate(annotators)}
    k, n_units, n_ann = len(cls), len(units), len(annotators)
    if k == 0:
        raise ValueError("dawid_skene needs at least one class")
    # One entry per rating: (unit, annotator, given class); sums over ratings are bincounts (no BLAS).
    rated = [(u, who[a], index.get(g, -1)) for u, unit in enumerate(units) for a, g in unit.items()]
    if any(g < 0 for _, _, g in rated):
        raise ValueError(f"a given class is not in the classes {list(cls)}")
    r_unit = np.array([r[0] for r in rated], dtype=np.int64)
    r_ann = np.array([r[1] for r in rated], dtype=np.int64)
    r_given = np.array([r[2] for r in rated], dtype=np.int64)

    # Start from the (soft) majority vote.
    votes = np.stack([np.bincount(r_unit, weights=(r_given == c).astype(float), minlength=n_units)
                      for c in range(k)], axis=1) if rated else np.zeros((n_units, k))
    totals = votes.sum(axis=1, keepdims=True)
    posteriors = np.where(totals > 0, votes / np.where(totals > 0, totals, 1.0), 1.0 / k)
    pseudo = np.full((k, k), PSEUDO_OFF / max(k - 1, 1))
    np.fill_diagonal(pseudo, PSEUDO_DIAGONAL)
    priors = np.full(k, 1.0 / k)
    confusion = np.zeros((n_ann, k, k))
    cell = r_ann * k + r_given  # (annotator, given class) of each rating
    iterations = 0
    for iterations in range(1, MAX_ITERATIONS + 1):  # noqa: B007 - the count is reported
        # M-step: priors and confusion matrices (annotator, true class j, given class l) from the posteriors.
        priors = (posteriors.sum(axis=0) + 1.0) / (n_units + k)
        confusion = np.stack([np.bincount(cell, weights=posteriors[r_unit, j], minlength=n_ann * k).reshape(n_ann, k)
                              for j in range(k)], axis=1) + pseudo[np.newaxis]
        confusion /= confusion.sum(axis=2, keepdims=True)
        # E-step: the posterior of each unit's true class.
        contribution = np.log(confusion)[r_ann, :, r_given]  # ratings x true class
        log_post = np.log(priors)[np.newaxis, :] + np.stack(
            [np.bincount(r_unit, weights=contribution[:, j], minlength=n_units) for j in range(k)], axis=1)
        log_post -= log_post.max(axis=1, keepdims=True)
        updated = np.exp(log_post)
        updated /= updated.sum(axis=1, keepdims=True)
        change = float(np.abs(updated - posteriors).max()) if n_units else 0.0
        posteriors = updated
        if change < TOLERANCE:
            break
    return DawidSkene(classes=cls, posteriors=posteriors, priors=priors,
                      confusion={a: confusion[i] for i, a in enumerate(annotators)}, iterations=iterations)
