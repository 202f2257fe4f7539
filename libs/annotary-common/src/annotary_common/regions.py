"""Geometry of single regions (Annotary's region JSON, pixels): a box's and a polygon's bbox, area and flat
segmentation. Used by the exporters (COCO, VOC, YOLO, Label Studio) and the Label Studio conversions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def shoelace_area(points: Sequence[tuple[float, float]]) -> float:
    twice = sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(points, [*points[1:], points[0]], strict=True))
    return abs(twice) / 2.0


def bbox_geometry(region: dict[str, Any]) -> tuple[list[float], float] | None:
    """([x, y, w, h], area) of a bbox region, or None when it is malformed."""
    values = [_number(region.get(key)) for key in ("x", "y", "w", "h")]
    if any(v is None for v in values):
        return None
    x, y, w, h = (v or 0.0 for v in values)
    if w < 0 or h < 0:
        return None
    return [x, y, w, h], w * h


def polygon_geometry(region: dict[str, Any]) -> tuple[list[float], list[float], float] | None:
    """(flat segmentation, bbox, area) of a polygon region with at least 3 points, or None."""
    raw = region.get("points")
    if not isinstance(raw, list) or len(raw) < 3:
        return None
    points: list[tuple[float, float]] = []
    for point in raw:
        if not isinstance(point, list | tuple) or len(point) < 2:
            return None
        x, y = _number(point[0]), _number(point[1])
        if x is None or y is None:
            return None
        points.append((x, y))
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    bbox = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
    return [c for p in points for c in p], bbox, shoelace_area(points)
