"""Agreement and consensus, skeleton level: exact match after normalisation.

Real metrics (IoU matching, kappa, alpha) come later; the shape of a decision will not change.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from annotary_qa.domain.policy import ReviewPolicy

DROPPED_KEYS = frozenset({"id", "score"})
DECIMALS = 2

Outcome = Literal["accepted", "review_required"]


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    agreement: float
    result: list[Any] | None  # the consensus result when accepted
    reason: str = ""          # why review is required; empty when accepted


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def normalise(result: Sequence[Any]) -> list[Any]:
    """Drop each region's "id" and "score", round numbers to 2 decimals, sort regions canonically."""
    regions = [_round(_strip(region)) for region in result]
    return sorted(regions, key=_region_order)


def _region_order(region: Any) -> tuple[str, str, str]:
    """By type, then label (or choice name), then the whole region: a total, stable order."""
    if isinstance(region, dict):
        return str(region.get("type", "")), str(region.get("label", region.get("name", ""))), canonical_json(region)
    return "", "", canonical_json(region)


def _strip(region: Any) -> Any:
    if isinstance(region, dict):
        return {k: v for k, v in region.items() if k not in DROPPED_KEYS}
    return region


def _round(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_round(v) for v in value]
    if isinstance(value, float):
        rounded = round(value, DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0
        return int(rounded) if rounded.is_integer() else rounded
    return value


def decide(results: Sequence[list[Any] | None], threshold: float, review: ReviewPolicy, sample_key: str) -> Decision:
    """Decide on one item-round from its submissions, each normalised, or None when it failed validation.

    Agreement is the fraction of submissions equal to the most common valid one (1.0 when all agree,
    and for a single valid submission); invalid submissions agree with nothing. Accepted with that
    result when agreement >= threshold and the policy does not send the item to review anyway.
    """
    if not results:
        raise ValueError("no submissions to decide on")
    keys = [canonical_json(r) if r is not None else None for r in results]
    counts: dict[str, int] = {}
    for key in keys:
        if key is not None:
            counts[key] = counts.get(key, 0) + 1
    if not counts:
        return Decision("review_required", 0.0, None, "no submission passed validation")
    best_key = max(counts, key=lambda k: counts[k])  # ties: the first submitted (dicts keep insertion order)
    agreement = counts[best_key] / len(results)
    merged = results[keys.index(best_key)]
    if agreement < threshold:
        return Decision("review_required", agreement, None,
                        f"agreement {agreement:.2f} is below the project threshold {threshold:.2f}")
    if review.mode == "all":
        return Decision("review_required", agreement, None, "the project's policy reviews every item (review: all)")
    if review.samples(sample_key):
        return Decision("review_required", agreement, None, f"sampled for review (review: {review.text})")
    return Decision("accepted", agreement, merged)
