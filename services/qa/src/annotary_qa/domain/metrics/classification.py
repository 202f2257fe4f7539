"""Chance-corrected agreement on categorical ratings, computed exactly (rational arithmetic), then as floats.

References (tests compare to 1e-9 on random inputs): scikit-learn ``cohen_kappa_score``, statsmodels
``fleiss_kappa``, the ``krippendorff`` package's ``alpha(level_of_measurement="nominal")``.
An undefined value (a zero denominator) is NaN, as the references return it, except where noted.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence
from fractions import Fraction

NAN = math.nan


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    """Cohen's kappa of two raters over the same units (unweighted).

    kappa = (p_o - p_e) / (1 - p_e), p_o the share of units rated alike, p_e = sum_c p_a(c) p_b(c).
    NaN when p_e = 1 (both raters used one and the same category) or there are no units, like scikit-learn.
    """
    if len(a) != len(b):
        raise ValueError(f"cohen_kappa needs ratings of the same units, got {len(a)} and {len(b)}")
    n = len(a)
    if n == 0:
        return NAN
    agree = sum(1 for x, y in zip(a, b, strict=True) if x == y)
    ca, cb = Counter(a), Counter(b)
    chance = sum(count * cb[c] for c, count in ca.items())  # n^2 * p_e
    denominator = n * n - chance
    if denominator == 0:
        return NAN
    return float(Fraction(n * agree - chance, denominator))


def fleiss_table(units: Sequence[Sequence[Hashable]], categories: Sequence[Hashable] | None = None) -> list[list[int]]:
    """Units x categories counts (statsmodels' ``aggregate_raters`` shape) from each unit's list of ratings."""
    cats = list(categories) if categories is not None else list(dict.fromkeys(r for unit in units for r in unit))
    index = {c: i for i, c in enumerate(cats)}
    table = [[0] * len(cats) for _ in units]
    for row, unit in zip(table, units, strict=True):
        for rating in unit:
            row[index[rating]] += 1
    return table


def fleiss_kappa(table: Sequence[Sequence[int]]) -> float:
    """Fleiss' kappa from a units x categories count table; every unit must have the same number of ratings.

    P_i = (sum_j n_ij^2 - n) / (n (n - 1)), P = mean P_i, p_j = sum_i n_ij / (N n), P_e = sum_j p_j^2,
    kappa = (P - P_e) / (1 - P_e). NaN when P_e = 1 (every rating in one category), when there are no units,
    or with fewer than two ratings per unit (statsmodels divides by zero there too).
    """
    if not table:
        return NAN
    raters = {sum(row) for row in table}
    if len(raters) != 1:
        raise ValueError(f"fleiss_kappa needs the same number of ratings per unit, got {sorted(raters)}")
    n = raters.pop()
    if n < 2:
        return NAN
    units = len(table)
    squares = sum(c * c for row in table for c in row)
    p_mean = Fraction(squares - units * n, units * n * (n - 1))
    columns = [sum(col) for col in zip(*table, strict=True)]
    p_exp = Fraction(sum(c * c for c in columns), (units * n) ** 2)
    if p_exp == 1:
        return NAN
    return float((p_mean - p_exp) / (1 - p_exp))


def krippendorff_alpha(data: Sequence[Sequence[Hashable | None]]) -> float:
    """Krippendorff's alpha, nominal, from raters x units data with ``None`` for a missing rating.

    Units with fewer than two ratings are not pairable and drop out. With o the coincidence matrix,
    n_c = sum_k o_ck and n = sum_c n_c: alpha = 1 - (n - 1) sum_{c != k} o_ck / sum_{c != k} n_c n_k.
    NaN when no unit is pairable or the pairable values are all one category; the reference raises
    ValueError in the first case and when the whole data holds one value, and returns NaN in the second.
    """
    if not data:
        return NAN
    width = {len(row) for row in data}
    if len(width) != 1:
        raise ValueError("krippendorff_alpha needs one row per rater, each with a value (or None) per unit")
    disagreement = Fraction(0)  # sum_{c != k} o_ck
    totals: Counter[Hashable] = Counter()  # n_c
    for unit in zip(*data, strict=True):
        values = [v for v in unit if v is not None]
        m = len(values)
        if m < 2:
            continue
        counts = Counter(values)
        disagreement += Fraction(m * m - sum(c * c for c in counts.values()), m - 1)
        totals.update(counts)
    n = sum(totals.values())
    expected = n * n - sum(c * c for c in totals.values())  # sum_{c != k} n_c n_k
    if n == 0 or expected == 0:
        return NAN
    return float(1 - (n - 1) * disagreement / expected)


def plurality_share(values: Sequence[Hashable]) -> float:
    """The share of ratings equal to the most common one (1.0 for a single rating, NaN for none)."""
    if not values:
        return NAN
    return max(Counter(values).values()) / len(values)
