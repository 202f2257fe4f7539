"""Reading a single-choice training target out of a result, and writing a prediction as a result."""

from __future__ import annotations

from typing import Any


def choice_target(result: Any, choice_name: str | None = None) -> tuple[str, str] | None:
    """``(choice name, value)`` of the first choice region (of ``choice_name`` when given), or None."""
    if not isinstance(result, list):
        return None
    for region in result:
        if not isinstance(region, dict) or region.get("type") != "choice":
            continue
        name, value = region.get("name"), region.get("value")
        if not isinstance(name, str) or not isinstance(value, str) or not value:
            continue
        if choice_name is None or name == choice_name:
            return name, value
    return None


def choice_result(choice_name: str, value: str, score: float) -> list[dict[str, Any]]:
    return [{"type": "choice", "name": choice_name, "value": value, "score": round(score, 4)}]
