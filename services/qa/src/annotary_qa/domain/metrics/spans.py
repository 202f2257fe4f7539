"""Text spans (start, end exclusive, label), order-free.

- ``exact_f1``: F1 of the two sets of (start, end, label) triples; equals scikit-learn's binary
  ``f1_score`` on indicator vectors over their union (tests check that), 1.0 when both are empty.
- ``partial_f1``: F1 of the two sets of (character position, label) pairs the spans cover: partial
  overlap earns partial credit; equals ``f1_score`` on character-label indicators.
Duplicates count once (sets).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

Span = tuple[int, int, str]


def _f1(a: set[object], b: set[object]) -> float:
    if not a and not b:
        return 1.0
    return 2 * len(a & b) / (len(a) + len(b))


def exact_f1(a: Iterable[Span], b: Iterable[Span]) -> float:
    return _f1(set(a), set(b))


def characters(spans: Iterable[Span]) -> set[tuple[int, str]]:
    return {(pos, label) for start, end, label in spans for pos in range(start, end)}


def partial_f1(a: Iterable[Span], b: Iterable[Span]) -> float:
    return _f1(set(characters(a)), set(characters(b)))


def overlapping(spans: Iterable[tuple[int, Span]]) -> tuple[int, int] | None:
    """The first two (index, span) entries whose [start, end) ranges overlap, as their indices."""
    ordered = sorted(spans, key=lambda e: (e[1][0], e[1][1], e[0]))
    for (i, s), (j, t) in itertools.pairwise(ordered):
        if t[0] < s[1]:
            return (min(i, j), max(i, j))
    return None
