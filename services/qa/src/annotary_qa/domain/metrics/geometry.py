"""Boxes and polygons: IoU, exact polygon areas, polygon simplicity.

Box IoU is pycocotools' ``maskUtils.iou`` on [x, y, w, h] boxes (iscrowd 0), formula for formula.
Polygon IoU is exact in the plane (tests compare with shapely): the intersection area is integrated
over vertical slabs between every vertex and every edge crossing, where the boundaries do not cross and
the covered length is linear in x, so the midpoint rule is exact. Polygons are filled even-odd.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

Box = tuple[float, float, float, float]  # x, y, w, h
Point = tuple[float, float]


def box_iou(a: Box, b: Box) -> float:
    """IoU of two [x, y, w, h] boxes, as pycocotools computes it (0 when they do not overlap)."""
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    if w <= 0:
        return 0.0
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if h <= 0:
        return 0.0
    inter = w * h
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def box_iou_matrix(a: Sequence[Box], b: Sequence[Box]) -> np.ndarray:
    """len(a) x len(b) IoUs."""
    out = np.zeros((len(a), len(b)))
    for i, box_a in enumerate(a):
        for j, box_b in enumerate(b):
            out[i, j] = box_iou(box_a, box_b)
    return out


def polygon_area(points: Sequence[Point]) -> float:
    """Absolute shoelace area (of a simple polygon)."""
    n = len(points)
    if n < 3:
        return 0.0
    twice = 0.0
    for i in range(n):
        x0, y0 = points[i]
        x1, y1 = points[(i + 1) % n]
        twice += x0 * y1 - x1 * y0
    return abs(twice) / 2.0


def _edges(points: Sequence[Point]) -> list[tuple[float, float, float, float]]:
    n = len(points)
    return [(points[i][0], points[i][1], points[(i + 1) % n][0], points[(i + 1) % n][1]) for i in range(n)]


def _crossing_x(e: tuple[float, float, float, float], f: tuple[float, float, float, float]) -> float | None:
    """The x of the proper crossing of two segments' interiors, if any."""
    ax, ay, bx, by = e
    cx, cy, dx, dy = f
    rx, ry, sx, sy = bx - ax, by - ay, dx - cx, dy - cy
    denom = rx * sy - ry * sx
    if denom == 0:
        return None
    t = ((cx - ax) * sy - (cy - ay) * sx) / denom
    u = ((cx - ax) * ry - (cy - ay) * rx) / denom
    if 0 < t < 1 and 0 < u < 1:
        return ax + t * rx
    return None


def _intervals(edges: list[tuple[float, float, float, float]], x: float) -> list[tuple[float, float]]:
    """The even-odd inside intervals of a polygon on the vertical line at x (x is never a vertex's x)."""
    ys = sorted(ay + (by - ay) * (x - ax) / (bx - ax)
                for ax, ay, bx, by in edges if (ax < x < bx) or (bx < x < ax))
    return [(ys[i], ys[i + 1]) for i in range(0, len(ys) - 1, 2)]


def _overlap(p: list[tuple[float, float]], q: list[tuple[float, float]]) -> float:
    total, i, j = 0.0, 0, 0
    while i < len(p) and j < len(q):
        lo, hi = max(p[i][0], q[j][0]), min(p[i][1], q[j][1])
        if hi > lo:
            total += hi - lo
        if p[i][1] < q[j][1]:
            i += 1
        else:
            j += 1
    return total


def polygon_intersection_area(a: Sequence[Point], b: Sequence[Point]) -> float:
    if len(a) < 3 or len(b) < 3:
        return 0.0
    ax0, ax1 = min(p[0] for p in a), max(p[0] for p in a)
    bx0, bx1 = min(p[0] for p in b), max(p[0] for p in b)
    ay0, ay1 = min(p[1] for p in a), max(p[1] for p in a)
    by0, by1 = min(p[1] for p in b), max(p[1] for p in b)
    if ax1 <= bx0 or bx1 <= ax0 or ay1 <= by0 or by1 <= ay0:
        return 0.0
    ea, eb = _edges(a), _edges(b)
    xs = {p[0] for p in a} | {p[0] for p in b}
    both = ea + eb
    for i, e in enumerate(both):  # every crossing, within and between the polygons
        for f in both[i + 1:]:
            x = _crossing_x(e, f)
            if x is not None:
                xs.add(x)
    lo, hi = max(ax0, bx0), min(ax1, bx1)
    cuts = sorted(x for x in xs if lo <= x <= hi)
    area = 0.0
    for x0, x1 in itertools.pairwise(cuts):
        if x1 <= x0:
            continue
        mid = (x0 + x1) / 2.0
        area += _overlap(_intervals(ea, mid), _intervals(eb, mid)) * (x1 - x0)
    return area


def filled_area(points: Sequence[Point]) -> float:
    """The even-odd filled area: the shoelace area for a simple polygon, also right for a self-intersecting one."""
    if len(points) < 3:
        return 0.0
    if self_intersection(points) is None:
        return polygon_area(points)
    return polygon_intersection_area(points, points)


def polygon_iou(a: Sequence[Point], b: Sequence[Point]) -> float:
    """Exact IoU of two polygons, filled even-odd (0 when both are degenerate)."""
    inter = polygon_intersection_area(a, b)
    union = filled_area(a) + filled_area(b) - inter
    return inter / union if union > 0 else 0.0


def distinct_points(points: Sequence[Point]) -> list[Point]:
    """Drop repeated consecutive vertices (and a closing copy of the first)."""
    out: list[Point] = []
    for p in points:
        if not out or (p[0], p[1]) != out[-1]:
            out.append((p[0], p[1]))
    while len(out) > 1 and out[-1] == out[0]:
        out.pop()
    return out


def _orient(p: Point, q: Point, r: Point) -> float:
    return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])


def _on_segment(p: Point, q: Point, r: Point) -> bool:
    """r is on segment pq, given the three are collinear."""
    return min(p[0], q[0]) <= r[0] <= max(p[0], q[0]) and min(p[1], q[1]) <= r[1] <= max(p[1], q[1])


def segments_touch(p1: Point, p2: Point, q1: Point, q2: Point) -> bool:
    """Whether two closed segments share at least one point."""
    d1, d2 = _orient(q1, q2, p1), _orient(q1, q2, p2)
    d3, d4 = _orient(p1, p2, q1), _orient(p1, p2, q2)
    if ((d1 > 0 > d2) or (d1 < 0 < d2)) and ((d3 > 0 > d4) or (d3 < 0 < d4)):
        return True
    return ((d1 == 0 and _on_segment(q1, q2, p1)) or (d2 == 0 and _on_segment(q1, q2, p2))
            or (d3 == 0 and _on_segment(p1, p2, q1)) or (d4 == 0 and _on_segment(p1, p2, q2)))


def self_intersection(points: Sequence[Point]) -> tuple[int, int] | None:
    """The first pair of edges (i, j) of the closed polygon that touch other than at their shared vertex.

    Edge i runs from vertex i to vertex i + 1. Adjacent edges may only share their common vertex (folding
    back along the same line counts as touching). Points should have no repeated consecutive vertices.
    """
    n = len(points)
    if n < 3:
        return None
    for i in range(n):
        p1, p2 = points[i], points[(i + 1) % n]
        for j in range(i + 1, n):
            q1, q2 = points[j], points[(j + 1) % n]
            if j == i + 1 or (i == 0 and j == n - 1):
                # adjacent: they share one vertex; touching elsewhere means they overlap on a line
                shared, other_p, other_q = (p2, p1, q2) if j == i + 1 else (p1, p2, q1)
                if _orient(other_p, shared, other_q) == 0 and (
                    _on_segment(shared, other_q, other_p) or _on_segment(shared, other_p, other_q)
                ):
                    return i, j
                continue
            if segments_touch(p1, p2, q1, q2):
                return i, j
    return None
