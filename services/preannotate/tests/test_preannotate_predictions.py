"""Which predictions can be stored (domain only, no services)."""

from __future__ import annotations

import pytest

from annotary_preannotate.domain.predictions import problem

BOX = '[{"type": "bbox", "label": "cat", "x": 1, "y": 2, "w": 3, "h": 4, "score": 0.8}]'


@pytest.mark.parametrize("model_version, score, result_json", [
    ("yolo-v8@3", 0.9, BOX),
    ("import", 0.0, "[]"),
    ("m", -1.5, BOX),
])
def test_storable(model_version: str, score: float, result_json: str) -> None:
    assert problem(model_version, score, result_json) is None


@pytest.mark.parametrize("model_version, score, result_json, reason", [
    ("", 0.9, BOX, "model_version is empty"),
    (" ", 0.9, BOX, "model_version is empty"),
    ("m", float("nan"), BOX, "score nan is not a finite number"),
    ("m", float("inf"), BOX, "score inf is not a finite number"),
    ("m", 0.5, "[{", "result_json is not valid JSON"),
    ("m", 0.5, "[NaN]", "result_json is not valid JSON"),
    ("m", 0.5, "", "result_json is not valid JSON"),
    ("m", 0.5, '{"type": "bbox"}', "result_json must be a JSON list of regions"),
    ("m", 0.5, '[{"label": "a\\u0000"}]', "result_json must not contain NUL characters"),
])
def test_not_storable(model_version: str, score: float, result_json: str, reason: str) -> None:
    assert (problem(model_version, score, result_json) or "").startswith(reason)
