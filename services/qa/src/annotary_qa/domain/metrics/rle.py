"""COCO run-length masks: ``{"size": [h, w], "counts": ...}``, column-major, runs alternating 0s and 1s
starting with 0s. ``counts`` is a list of run lengths (uncompressed) or COCO's compressed string.

IoU works on the runs directly (no pixel array): tests compare decoding, area and IoU with pycocotools'
``maskUtils.decode``, ``area`` and ``iou`` (iscrowd 0; two empty masks have IoU 0 there and here).
"""

from __future__ import annotations

from collections.abc import Sequence


class RleError(ValueError):
    pass


def decode_counts(counts: str | bytes | Sequence[int]) -> list[int]:
    """Run lengths from either form; the compressed form is decoded as pycocotools' ``rleFrString``."""
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    if not isinstance(counts, str):
        out = list(counts)
        if any(isinstance(c, bool) or not isinstance(c, int) or c < 0 for c in out):
            raise RleError("run lengths must be non-negative integers")
        return out
    runs: list[int] = []
    p, length = 0, len(counts)
    while p < length:
        x, k, more = 0, 0, True
        while more:
            if p >= length:
                raise RleError("compressed counts end in the middle of a number")
            c = ord(counts[p]) - 48
            if not 0 <= c < 64:
                raise RleError(f"character {counts[p]!r} is not in COCO's compressed alphabet")
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and c & 0x10:
                x |= -1 << (5 * k)
        if len(runs) > 2:
            x += runs[-2]
        if x < 0:
            raise RleError("compressed counts decode to a negative run")
        runs.append(x)
    return runs


def ones(runs: Sequence[int]) -> list[tuple[int, int]]:
    """The [start, end) pixel intervals (column-major index) covered by the mask."""
    out: list[tuple[int, int]] = []
    pos = 0
    for i, run in enumerate(runs):
        if i % 2 == 1 and run > 0:
            out.append((pos, pos + run))
        pos += run
    return out


def area(runs: Sequence[int]) -> int:
    return sum(runs[1::2])


def intersection(a: Sequence[tuple[int, int]], b: Sequence[tuple[int, int]]) -> int:
    total, i, j = 0, 0, 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if hi > lo:
            total += hi - lo
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return total


def iou(a: Sequence[int], b: Sequence[int]) -> float:
    """IoU of two masks of the same size given as run lengths (0 when both are empty)."""
    inter = intersection(ones(a), ones(b))
    union = area(a) + area(b) - inter
    return inter / union if union > 0 else 0.0
