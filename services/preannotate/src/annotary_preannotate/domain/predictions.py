"""Which predictions carried by an event can be stored: a model version, a finite score, a JSON list."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Rejected:
    index: int
    model_version: str
    reason: str


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def problem(model_version: str, score: float, result_json: str) -> str | None:
    """Why a prediction cannot be stored, or None when it can."""
    if not model_version.strip():
        return "model_version is empty"
    if not math.isfinite(score):
        return f"score {score!r} is not a finite number"
    try:
        result = json.loads(result_json, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        return f"result_json is not valid JSON ({exc})"
    if not isinstance(result, list):
        return "result_json must be a JSON list of regions"
    if _has_nul(result):
        return "result_json must not contain NUL characters (\\u0000)"
    return None
