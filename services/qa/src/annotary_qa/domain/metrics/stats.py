"""Annotator work statistics."""

from __future__ import annotations

import math
from collections.abc import Sequence

MS_PER_HOUR = 3_600_000.0


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between order statistics (numpy's default
    "linear" method; tests compare with ``numpy.percentile``); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    frac = pos - lo
    return ordered[lo] + (ordered[hi] - ordered[lo]) * frac


def throughput_per_hour(lead_times_ms: Sequence[float]) -> float:
    """Tasks per hour of working time: count / (sum of the reported lead times in hours); 0 without any."""
    timed = [t for t in lead_times_ms if t > 0]
    if not timed:
        return 0.0
    return len(timed) / (math.fsum(timed) / MS_PER_HOUR)
