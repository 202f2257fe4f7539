"""Flywheel rules: when to train, which accepted items are held out, whether a candidate is promoted."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from annotary_common.regions import bbox_geometry


def retrain_due(accepted: int, last_requested_at: int, every: int) -> bool:
    """Train after every ``every`` accepted annotations of a project."""
    return every > 0 and accepted - last_requested_at >= every


def is_heldout(item_id: str, fraction: float) -> bool:
    """A fixed, item-determined slice: an item is held out for evaluation (never trained on) or not, for
    every model of its project, so candidates and incumbents are compared on data neither has seen."""
    if fraction <= 0:
        return False
    digest = hashlib.sha256(item_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64 < fraction


@dataclass(frozen=True)
class Evaluation:
    accuracy: float
    log_loss: float
    items: int

    def as_dict(self) -> dict[str, Any]:
        return {"accuracy": self.accuracy, "log_loss": self.log_loss, "items": self.items}


def evaluate(truth: Sequence[str], predicted: Sequence[str], prob_of_truth: Sequence[float]) -> Evaluation:
    n = len(truth)
    if n == 0:
        return Evaluation(0.0, math.inf, 0)
    acc = sum(t == p for t, p in zip(truth, predicted, strict=True)) / n
    ll = -sum(math.log(min(max(p, 1e-6), 1.0)) for p in prob_of_truth) / n
    return Evaluation(acc, ll, n)


def better(candidate: Evaluation, incumbent: Evaluation | None) -> bool:
    """Promote only when strictly better on the held-out slice: higher accuracy, or the same accuracy and a
    lower log loss. With no incumbent the candidate must beat the majority-class baseline (the caller's
    ``incumbent`` then)."""
    if incumbent is None:
        return True
    if candidate.accuracy != incumbent.accuracy:
        return candidate.accuracy > incumbent.accuracy
    return candidate.log_loss < incumbent.log_loss


def majority_baseline(train_labels: Sequence[str], heldout_truth: Sequence[str]) -> Evaluation:
    """What always answering the most common training label scores on the held-out slice."""
    if not train_labels:
        return Evaluation(0.0, math.inf, len(heldout_truth))
    counts: dict[str, int] = {}
    for label in train_labels:
        counts[label] = counts.get(label, 0) + 1
    top = max(counts, key=lambda k: (counts[k], k))
    share = {k: v / len(train_labels) for k, v in counts.items()}
    return evaluate(heldout_truth, [top] * len(heldout_truth), [share.get(t, 0.0) for t in heldout_truth])


def lineage_digest(item_ids: Sequence[str]) -> str:
    """A digest naming exactly which items a model was trained on."""
    return hashlib.sha256(json.dumps(sorted(item_ids)).encode()).hexdigest()[:16]


def span_f1(truth: Sequence[Sequence[Any]], predicted: Sequence[Sequence[Any]]) -> float:
    """Micro F1 of exact span matches (start, end, label) over items; 1.0 when neither side has a span."""
    def spans(result: Sequence[Any]) -> set[tuple[Any, Any, Any]]:
        return {(r.get("start"), r.get("end"), r.get("label")) for r in result
                if isinstance(r, dict) and r.get("type") == "span"}

    hits = guessed = wanted = 0
    for t, p in zip(truth, predicted, strict=True):
        ts, ps = spans(t), spans(p)
        hits += len(ts & ps)
        guessed += len(ps)
        wanted += len(ts)
    if guessed + wanted == 0:
        return 1.0
    return 2 * hits / (guessed + wanted)


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two [x, y, w, h] boxes."""
    iw = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def box_f1(truth: Sequence[Sequence[Any]], predicted: Sequence[Sequence[Any]], iou: float = 0.5) -> float:
    """Micro F1 of box detection over items: a predicted bbox is a hit when it overlaps an unmatched true box of the
    same label by at least ``iou`` (predictions taken by their ``score``, highest first, each truth matched once);
    1.0 when neither side has a box."""
    def boxes(result: Sequence[Any]) -> list[tuple[str, list[float], float]]:
        out = []
        for r in result:
            if isinstance(r, dict) and r.get("type") == "bbox" and (geometry := bbox_geometry(r)) is not None:
                out.append((str(r.get("label")), geometry[0], float(r.get("score") or 0.0)))
        return out

    hits = guessed = wanted = 0
    for t, p in zip(truth, predicted, strict=True):
        ts, ps = boxes(t), sorted(boxes(p), key=lambda b: -b[2])
        used: set[int] = set()
        for label, box, _ in ps:
            best, index = 0.0, -1
            for j, (true_label, true_box, _) in enumerate(ts):
                if j not in used and true_label == label and (overlap := box_iou(box, true_box)) > best:
                    best, index = overlap, j
            if index >= 0 and best >= iou:
                used.add(index)
        hits += len(used)
        guessed += len(ps)
        wanted += len(ts)
    if guessed + wanted == 0:
        return 1.0
    return 2 * hits / (guessed + wanted)
