"""Agreement and consensus, skeleton level (domain only, no services)."""

from __future__ import annotations

from typing import Any

import pytest

from annotary_qa.domain.agreement import Decision, canonical_json, decide, normalise
from annotary_qa.domain.policy import PolicyError, ReviewPolicy, check_threshold, parse_review

DISAGREEMENTS = ReviewPolicy("disagreements")
A: list[Any] = [{"type": "bbox", "label": "cat", "x": 1, "y": 2, "w": 30, "h": 40}]
B: list[Any] = [{"type": "bbox", "label": "dog", "x": 1, "y": 2, "w": 30, "h": 40}]


def test_normalise_drops_id_and_score_rounds_and_sorts() -> None:
    result = [
        {"type": "span", "label": "PER", "start": 5, "end": 9, "id": "b", "score": 0.7},
        {"type": "bbox", "label": "cat", "x": 10.004, "y": -0.001, "w": 3.14159, "h": 2.0, "id": "a"},
        {"type": "polygon", "label": "cat", "points": [[1.234, 5.678], [0, 0], [3, 3]]},
    ]
    assert normalise(result) == [
        {"type": "bbox", "label": "cat", "x": 10, "y": 0, "w": 3.14, "h": 2},
        {"type": "polygon", "label": "cat", "points": [[1.23, 5.68], [0, 0], [3, 3]]},
        {"type": "span", "label": "PER", "start": 5, "end": 9},
    ]


def test_normalise_makes_equivalent_results_equal() -> None:
    one = [{"id": "r1", "type": "bbox", "label": "cat", "x": 1.001, "y": 2, "w": 3, "h": 4},
           {"type": "choice", "name": "q", "value": "good"}]
    two = [{"type": "choice", "value": "good", "name": "q", "score": 1},
           {"h": 4.0, "w": 3, "y": 2.0, "x": 1, "label": "cat", "type": "bbox", "id": "other"}]
    assert canonical_json(normalise(one)) == canonical_json(normalise(two))


def test_normalise_keeps_integers_and_booleans() -> None:
    assert normalise([{"type": "x", "start": 3, "flag": True, "n": 10**20}]) == [
        {"type": "x", "start": 3, "flag": True, "n": 10**20}
    ]


@pytest.mark.parametrize("results, agreement", [
    ([A], 1.0),
    ([A, A], 1.0),
    ([A, A, A], 1.0),
])
def test_all_equal_is_accepted_with_agreement_one(results: list[list[Any]], agreement: float) -> None:
    assert decide(results, 0.9, DISAGREEMENTS, "k") == Decision("accepted", agreement, A)


@pytest.mark.parametrize("results, threshold, outcome, agreement", [
    ([A, A, B], 0.6, "accepted", 2 / 3),
    ([A, A, B], 0.7, "review_required", 2 / 3),
    ([A, B], 0.5, "accepted", 0.5),
    ([A, B], 0.51, "review_required", 0.5),
    ([A, A, None], 0.6, "accepted", 2 / 3),       # an invalid submission counts as disagreement
    ([A, None], 0.8, "review_required", 0.5),
    ([None, None], 0.0, "review_required", 0.0),  # nothing valid to accept, whatever the threshold
    ([None], 0.0, "review_required", 0.0),
])
def test_majority(results: list[list[Any] | None], threshold: float, outcome: str, agreement: float) -> None:
    decision = decide(results, threshold, DISAGREEMENTS, "k")
    assert decision.outcome == outcome
    assert decision.agreement == pytest.approx(agreement)
    assert (decision.result == A) == (outcome == "accepted")
    assert (decision.reason == "") == (outcome == "accepted")


def test_tie_takes_the_first_submitted() -> None:
    assert decide([B, A], 0.5, DISAGREEMENTS, "k").result == B


def test_below_threshold_reason_names_both_figures() -> None:
    assert decide([A, B], 0.8, DISAGREEMENTS, "k").reason == "agreement 0.50 is below the project threshold 0.80"


def test_review_all_sends_even_full_agreement_to_review() -> None:
    decision = decide([A, A], 0.5, ReviewPolicy("all"), "k")
    assert decision.outcome == "review_required" and decision.agreement == 1.0
    assert "review: all" in decision.reason


def test_review_none_still_reviews_below_threshold() -> None:
    assert decide([A, B], 0.8, ReviewPolicy("none"), "k").outcome == "review_required"
    assert decide([A, A], 0.8, ReviewPolicy("none"), "k").outcome == "accepted"


def test_sample_is_deterministic_and_close_to_its_rate() -> None:
    policy = parse_review("sample:0.25")
    drawn = [policy.samples(f"item-{i}:1") for i in range(4000)]
    assert drawn == [policy.samples(f"item-{i}:1") for i in range(4000)]
    assert 0.22 < sum(drawn) / len(drawn) < 0.28
    key = next(f"item-{i}:1" for i in range(4000) if policy.samples(f"item-{i}:1"))
    assert decide([A], 0.5, policy, key).reason == "sampled for review (review: sample:0.25)"
    assert not parse_review("sample:0").samples(key) and parse_review("sample:1").samples(key)


def test_no_submissions_is_an_error() -> None:
    with pytest.raises(ValueError, match="no submissions"):
        decide([], 0.5, DISAGREEMENTS, "k")


@pytest.mark.parametrize("text, expected", [
    ("", ReviewPolicy("disagreements")),
    ("none", ReviewPolicy("none")),
    ("all", ReviewPolicy("all")),
    ("disagreements", ReviewPolicy("disagreements")),
    ("sample:0.1", ReviewPolicy("sample", 0.1)),
])
def test_parse_review(text: str, expected: ReviewPolicy) -> None:
    assert parse_review(text) == expected


@pytest.mark.parametrize("text", ["some", "sample:", "sample:x", "sample:1.5", "sample:nan", "ALL"])
def test_parse_review_rejects(text: str) -> None:
    with pytest.raises(PolicyError) as info:
        parse_review(text)
    assert info.value.field == "review"


@pytest.mark.parametrize("value", [-0.1, 1.01, float("nan"), float("inf")])
def test_threshold_range(value: float) -> None:
    with pytest.raises(PolicyError, match="agreement_threshold: must be between 0 and 1"):
        check_threshold(value)
