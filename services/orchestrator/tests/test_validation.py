"""Policy and result validation (pure)."""

from __future__ import annotations

import math

import pytest

from annotary_orchestrator.domain.policy import InvalidPolicy, Policy
from annotary_orchestrator.domain.results import InvalidResult, parse_result


def test_defaults_are_valid() -> None:
    assert Policy().validated() == Policy()


@pytest.mark.parametrize(("changes", "field"), [
    ({"overlap": 0}, "policy.overlap"),
    ({"overlap": 101}, "policy.overlap"),
    ({"lease_seconds": 9}, "policy.lease_seconds"),
    ({"lease_seconds": 0}, "policy.lease_seconds"),
    ({"agreement_threshold": 1.5}, "policy.agreement_threshold"),
    ({"gold_ratio": -0.1}, "policy.gold_ratio"),
    ({"gold_min_accuracy": math.nan}, "policy.gold_min_accuracy"),
    ({"review": "sometimes"}, "policy.review"),
    ({"review": "sample:1.5"}, "policy.review"),
    ({"max_active_per_annotator": 0}, "policy.max_active_per_annotator"),
    ({"max_active_per_annotator": 1001}, "policy.max_active_per_annotator"),
    ({"max_items_per_annotator": -1}, "policy.max_items_per_annotator"),
    ({"qualification_items": -1}, "policy.qualification_items"),
    ({"qualification_min_accuracy": 1.01}, "policy.qualification_min_accuracy"),
])
def test_broken_fields_are_named(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidPolicy) as info:
        Policy(**changes).validated()  # type: ignore[arg-type]
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")


@pytest.mark.parametrize("review", ["none", "disagreements", "all", "sample:0.1", "sample:1"])
def test_review_modes(review: str) -> None:
    Policy(review=review).validated()


def test_policy_json_round_trip_ignores_unknown_keys() -> None:
    policy = Policy(overlap=3, lease_seconds=60, review="all")
    assert Policy.from_json({**policy.to_json(), "future_key": 1}) == policy
    assert Policy.from_json({"overlap": 2}) == Policy(overlap=2)


def test_results_must_be_lists_of_objects() -> None:
    assert parse_result('[{"type": "bbox", "label": "a", "x": 1, "y": 2, "w": 3, "h": 4}]')[0]["label"] == "a"
    assert parse_result("[]") == []
    for bad, needle in [("{}", "JSON list"), ("nope", "not valid JSON"), ('"x"', "JSON list"), ("[1]", "region 0")]:
        with pytest.raises(InvalidResult, match=needle) as info:
            parse_result(bad)
        assert str(info.value).startswith("result_json: ")
