"""Object keypoint similarity (COCO OKS).

``oks`` is pycocotools' ``COCOeval.computeOks`` for a ground truth with at least one labelled keypoint:
mean over the ground truth's keypoints with v > 0 of exp(-d^2 / (2 (area + eps) (2 sigma)^2)).
Differences, documented: (1) with no labelled ground-truth keypoint COCO measures the distance to a box
around the ground truth's bbox; keypoint regions carry no bbox, so here the similarity is 1.0 when the
other side labels none either, else 0.0; (2) ``area`` is the caller's: for keypoint regions it is the
area of the box spanning the labelled keypoints (at least 1 px^2), COCO uses the object's segment area.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

EPS = float(np.spacing(1))
DEFAULT_SIGMA = 0.05

Keypoint = Sequence[float]  # x, y, visibility (0 = not labelled, 1 = labelled hidden, 2 = visible)


def oks(gt: Sequence[Keypoint], dt: Sequence[Keypoint], area: float, sigmas: Sequence[float]) -> float:
    """OKS of ``dt`` against ``gt`` (same number of keypoints as ``sigmas``)."""
    if not (len(gt) == len(dt) == len(sigmas)):
        raise ValueError(f"oks needs as many keypoints as sigmas, got {len(gt)}, {len(dt)}, {len(sigmas)}")
    labelled = [i for i, p in enumerate(gt) if p[2] > 0]
    if not labelled:
        return 1.0 if not any(p[2] > 0 for p in dt) else 0.0
    total = 0.0
    for i in labelled:
        dx, dy = dt[i][0] - gt[i][0], dt[i][1] - gt[i][1]
        var = (sigmas[i] * 2) ** 2
        total += math.exp(-((dx * dx + dy * dy) / var / (area + EPS) / 2))
    return total / len(labelled)


def extent_area(points: Sequence[Keypoint]) -> float:
    """Area of the box spanning the labelled keypoints, at least 1 px^2."""
    xs = [p[0] for p in points if p[2] > 0]
    ys = [p[1] for p in points if p[2] > 0]
    if not xs:
        return 1.0
    return max((max(xs) - min(xs)) * (max(ys) - min(ys)), 1.0)


def symmetric_oks(a: Sequence[Keypoint], b: Sequence[Keypoint], sigmas: Sequence[float] | None = None) -> float:
    """Agreement of two annotators' keypoint sets: the mean of OKS each way (each side's extent as area).

    0.0 when the sets have different lengths.
    """
    if len(a) != len(b):
        return 0.0
    s = list(sigmas) if sigmas is not None else [DEFAULT_SIGMA] * len(a)
    if len(s) != len(a):
        return 0.0
    return (oks(a, b, extent_area(a), s) + oks(b, a, extent_area(b), s)) / 2.0
