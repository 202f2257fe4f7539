"""Annotation results (DESIGN.md "Annotation result"): a JSON list of regions."""

from __future__ import annotations

import json
from typing import Any


class InvalidResult(ValueError):
    """A result that is not a JSON list; ``field`` names where it came from."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def parse_result(text: str, field: str = "result_json") -> list[Any]:
    """Parse a result: it must be a JSON list (of regions); each region, when present, a JSON object."""
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise InvalidResult(field, f"not valid JSON ({exc})") from None
    if not isinstance(value, list):
        raise InvalidResult(field, f"must be a JSON list of regions, got {type(value).__name__}")
    for index, region in enumerate(value):
        if not isinstance(region, dict):
            raise InvalidResult(field, f"region {index} must be a JSON object, got {type(region).__name__}")
    return value
