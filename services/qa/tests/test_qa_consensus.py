"""Agreement per region family, the consensus merge, gold scoring and the decision (domain only)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from annotary_qa.domain.consensus import (
    assess,
    best_submission,
    canonical_json,
    decide,
    metric_name,
    prepare,
    score_against,
)
from annotary_qa.domain.policy import PolicyError, ReviewPolicy, check_fraction, check_threshold, parse_review
from annotary_qa.domain.schema import parse_schema

DISAGREEMENTS = ReviewPolicy("disagreements")
BOXES = parse_schema({"modality": "image", "labels": [{"name": "cat"}, {"name": "dog"}], "tools": ["bbox"]})
TEXT = parse_schema({"modality": "text", "labels": [{"name": "PER"}, {"name": "ORG"}], "tools": ["span", "relation"]})
CHOICES = parse_schema({"modality": "text", "labels": [], "tools": ["choice"], "choices": [
    {"name": "sentiment", "options": ["pos", "neg", "neu"]},
    {"name": "tags", "options": ["a", "b", "c"], "multiple": True},
]})
SHAPES = parse_schema({"modality": "image", "labels": [{"name": "cat"}], "tools": ["polygon", "keypoints", "mask"]})


def box(x: float, y: float = 10, w: float = 20, h: float = 20, label: str = "cat", **extra: Any) -> dict[str, Any]:
    return {"type": "bbox", "label": label, "x": x, "y": y, "w": w, "h": h, **extra}


def span(start: int, end: int, label: str = "PER", **extra: Any) -> dict[str, Any]:
    return {"type": "span", "label": label, "start": start, "end": end, **extra}


def choice(name: str, value: Any) -> dict[str, Any]:
    return {"type": "choice", "name": name, "value": value}


# -- normalisation -----------------------------------------------------------------------------
def test_prepare_drops_id_and_score_and_rounds_keeping_the_order() -> None:
    result = [
        {"type": "span", "label": "PER", "start": 5, "end": 9, "id": "b", "score": 0.7},
        {"type": "bbox", "label": "cat", "x": 10.004, "y": -0.001, "w": 3.14159, "h": 2.0, "id": "a"},
        {"type": "polygon", "label": "cat", "points": [[1.234, 5.678], [0, 0], [3, 3]]},
    ]
    assert list(prepare(result).regions) == [
        {"type": "span", "label": "PER", "start": 5, "end": 9},
        {"type": "bbox", "label": "cat", "x": 10, "y": 0, "w": 3.14, "h": 2},
        {"type": "polygon", "label": "cat", "points": [[1.23, 5.68], [0, 0], [3, 3]]},
    ]


def test_prepare_makes_equivalent_regions_equal_and_resolves_relation_ends() -> None:
    one = prepare([{"id": "r1", "type": "bbox", "label": "cat", "x": 1.001, "y": 2, "w": 3, "h": 4},
                   {"id": "r2", "type": "bbox", "label": "dog", "x": 5, "y": 5, "w": 1, "h": 1},
                   {"type": "relation", "label": "near", "from": "r2", "to": "r1"}])
    two = prepare([{"h": 4.0, "w": 3, "y": 2.0, "x": 1, "label": "cat", "type": "bbox", "id": "other", "score": 1}])
    assert canonical_json(one.regions[0]) == canonical_json(two.regions[0])
    assert one.endpoints == {2: (1, 0)} and one.regions[2] == {"type": "relation", "label": "near"}


# -- metric names ------------------------------------------------------------------------------
def test_metric_names_follow_the_schema() -> None:
    assert metric_name(BOXES) == "box_f1@0.5"
    assert metric_name(TEXT) == "min(span_f1,relation_f1)"
    assert metric_name(CHOICES) == "choice_agreement"
    assert metric_name(SHAPES) == "min(polygon_f1@0.5,mask_f1@0.5,keypoint_f1@0.5)"
    strict = parse_schema({"modality": "image", "labels": [{"name": "a"}], "tools": ["bbox"],
                           "rules": {"iou_threshold": 0.75}})
    assert metric_name(strict) == "box_f1@0.75"


# -- boxes -------------------------------------------------------------------------------------
def test_agreeing_boxes_merge_by_averaging() -> None:
    a = [box(10), box(60, label="dog")]
    b = [box(12, id="x"), box(61, label="dog", score=0.3)]  # order, ids and scores do not matter
    c = [box(60.5, label="dog"), box(11)]
    result = assess([a, b, c], BOXES)
    assert result.agreement == 1.0 and result.metric == "box_f1@0.5"
    assert result.metrics["box_f1"] == 1.0 and 0.8 < result.metrics["mean_iou"] < 1.0
    assert result.merged == [box(11), box(60.5, label="dog")]
    assert [p[2] for p in result.pairs] == [1.0, 1.0, 1.0]


def test_a_careless_annotator_lowers_pairwise_agreement_and_is_outvoted() -> None:
    good = [box(10), box(60, label="dog")]
    careless = [box(10, label="dog")]  # wrong label, one box missing
    result = assess([good, good, careless], BOXES)
    assert result.agreement == pytest.approx((1.0 + 0.0 + 0.0) / 3)
    assert result.merged == good  # each box found by 2 of 3


def test_labels_must_match_and_iou_must_reach_the_threshold() -> None:
    assert assess([[box(10)], [box(10, label="dog")]], BOXES).agreement == 0.0
    assert assess([[box(10)], [box(25)]], BOXES).agreement == 0.0  # IoU 0.14
    assert assess([[box(10)], [box(14)]], BOXES).agreement == 1.0  # IoU 0.67


def test_two_annotators_merge_only_what_both_found() -> None:
    result = assess([[box(10), box(60)], [box(11)]], BOXES)
    assert result.agreement == pytest.approx(2 / 3)
    assert result.merged == [box(10.5)]


def test_invalid_submissions_agree_with_nothing() -> None:
    result = assess([[box(10)], [box(10)], None], BOXES)
    assert result.agreement == pytest.approx(1 / 3)
    assert result.merged == [box(10)]
    assert assess([None], BOXES).agreement == 0.0
    assert assess([None, None], BOXES).merged == []


def test_empty_results_agree() -> None:
    assert assess([[], []], BOXES).agreement == 1.0
    assert assess([[], []], BOXES).merged == []


# -- spans and relations -----------------------------------------------------------------------
def test_spans_exact_and_partial_and_majority() -> None:
    a = [span(0, 3), span(13, 17, "ORG")]
    b = [span(0, 3), span(13, 18, "ORG")]
    c = [span(0, 3), span(13, 17, "ORG")]
    result = assess([a, b, c], TEXT)
    assert result.metrics["span_f1"] == pytest.approx((0.5 + 1.0 + 0.5) / 3)
    assert 0.9 < result.metrics["span_partial_f1"] < 1.0
    assert result.merged == sorted([span(0, 3), span(13, 17, "ORG")], key=lambda r: (r["label"], r["start"]))


def test_relations_follow_their_endpoints_and_get_ids_in_the_merge() -> None:
    a = [span(0, 3, id="p"), span(13, 17, "ORG", id="o"), {"type": "relation", "label": "PER", "from": "p", "to": "o"}]
    b = [span(13, 17, "ORG", id=7), span(0, 3, id=8), {"type": "relation", "label": "PER", "from": 8, "to": 7}]
    wrong = [span(0, 3, id="p"), span(13, 17, "ORG", id="o"), {"type": "relation", "label": "PER", "from": "o",
                                                                  "to": "p"}]
    assert assess([a, b], TEXT).agreement == 1.0
    assert assess([a, wrong], TEXT).metrics["relation_f1"] == 0.0
    merged = assess([a, b, wrong], TEXT).merged
    ids = {(r["start"], r["end"]): r["id"] for r in merged if r["type"] == "span"}
    [relation] = [r for r in merged if r["type"] == "relation"]
    assert (relation["from"], relation["to"]) == (ids[(0, 3)], ids[(13, 17)])


# -- choices -----------------------------------------------------------------------------------
def test_choices_fraction_agreeing_and_majority() -> None:
    r1 = [choice("sentiment", "pos"), choice("tags", ["b", "a"])]
    r2 = [choice("sentiment", "pos"), choice("tags", ["a", "b"])]
    r3 = [choice("sentiment", "neg")]
    result = assess([r1, r2, r3], CHOICES)
    # sentiment: 2 of 3 agree; tags: 2 of 3 (no answer is an answer of its own)
    assert result.agreement == pytest.approx(2 / 3)
    assert result.merged == [choice("sentiment", "pos"), choice("tags", ["a", "b"])]
    assert result.choice_answers[0] == {"sentiment": "pos", "tags": '["a","b"]'}


def test_choice_tie_goes_to_the_first_without_history() -> None:
    assert assess([[choice("sentiment", "neg")], [choice("sentiment", "pos")]], CHOICES).merged == [
        choice("sentiment", "neg")]


def test_dawid_skene_weights_annotators_with_a_history() -> None:
    """`careless` answered at random before; in a 1:1 tie the reliable annotator's answer wins."""
    history: list[dict[str, str]] = []
    for k in range(30):
        truth = ["pos", "neg", "neu"][k % 3]
        history.append({"reliable": truth, "other": truth, "careless": ["neu", "pos", "neg"][(k * 7) % 3]})
    results = [[choice("sentiment", "neg")], [choice("sentiment", "pos")]]
    merged = assess(results, CHOICES, ["careless", "reliable"], {"sentiment": history}).merged
    assert merged == [choice("sentiment", "pos")]
    # without the history, the tie goes to the first submitted
    assert assess(results, CHOICES, ["careless", "reliable"], {}).merged == [choice("sentiment", "neg")]


# -- polygons, masks, keypoints ----------------------------------------------------------------
SQUARE = [[0, 0], [10, 0], [10, 10], [0, 10]]


def test_polygons_masks_and_keypoints() -> None:
    mask = {"size": [4, 4], "counts": [2, 6, 8]}  # column-major: pixels 2..7 set
    kp = [[1, 1, 2], [9, 9, 2], [5, 5, 0]]
    a = [{"type": "polygon", "label": "cat", "points": SQUARE},
         {"type": "mask", "label": "cat", "rle": mask}, {"type": "keypoints", "label": "cat", "points": kp}]
    b = [{"type": "polygon", "label": "cat", "points": [[0, 0], [10, 0], [10, 9], [0, 9]]},
         {"type": "mask", "label": "cat", "rle": {"size": [4, 4], "counts": [2, 5, 9]}},
         {"type": "keypoints", "label": "cat", "points": [[1.5, 1, 2], [9, 9.5, 2], [0, 0, 0]]}]
    result = assess([a, b, a], SHAPES)
    assert result.agreement == 1.0
    assert result.metrics["polygon_mean_iou"] == pytest.approx((0.9 + 1.0 + 0.9) / 3)
    assert result.metrics["mask_mean_iou"] == pytest.approx((5 / 6 + 1.0 + 5 / 6) / 3)
    merged = {r["type"]: r for r in result.merged}
    assert merged["polygon"]["points"] == SQUARE  # the member agreeing best with the others
    assert merged["mask"]["rle"] == mask
    assert merged["keypoints"]["points"] == [[1.17, 1, 2], [9, 9.17, 2], [0, 0, 0]]  # averaged where visible


# -- gold scores and the best submission ---------------------------------------------------------
def test_score_against_gold() -> None:
    gold = [box(10), box(60, label="dog")]
    assert score_against(gold, gold, BOXES) == 1.0
    assert score_against([box(11)], gold, BOXES) == pytest.approx(2 / 3)  # F1@0.5: 1 of 2 found, no extra
    assert score_against([box(10, label="dog")], gold, BOXES) == 0.0
    assert score_against([choice("sentiment", "neg")], [choice("sentiment", "pos")], CHOICES) == 0.0
    assert score_against([choice("tags", ["c", "a"])], [choice("tags", ["a", "c"])], CHOICES) == 1.0


def test_best_submission() -> None:
    assert best_submission([[box(10)], [box(60)], [box(11)]], BOXES) == 0
    assert best_submission([None, [box(60)]], BOXES) == 1
    assert best_submission([None, None], BOXES) is None


# -- the decision ------------------------------------------------------------------------------
A: list[Any] = [box(1, 2, 30, 40)]
B: list[Any] = [box(1, 2, 30, 40, label="dog")]


@pytest.mark.parametrize("results, threshold, outcome, agreement", [
    ([A], 0.9, "accepted", 1.0),
    ([A, A, A], 1.0, "accepted", 1.0),
    ([A, A, B], 0.3, "accepted", 1 / 3),
    ([A, A, B], 0.4, "review_required", 1 / 3),
    ([A, B], 0.0, "accepted", 0.0),                # threshold 0 accepts anything valid: the majority merge is []
    ([A, B], 0.01, "review_required", 0.0),
    ([A, A, None], 0.3, "accepted", 1 / 3),       # an invalid submission counts as disagreement
    ([None, None], 0.0, "review_required", 0.0),  # nothing valid to accept, whatever the threshold
    ([None], 0.0, "review_required", 0.0),
])
def test_decide(results: list[list[Any] | None], threshold: float, outcome: str, agreement: float) -> None:
    decision = decide(assess(results, BOXES), any(r is not None for r in results), threshold, DISAGREEMENTS, "k")
    assert decision.outcome == outcome
    assert decision.agreement == pytest.approx(agreement)
    assert (decision.reason == "") == (outcome == "accepted")


def test_below_threshold_reason_names_the_figures_and_metric() -> None:
    decision = decide(assess([A, B], BOXES), True, 0.8, DISAGREEMENTS, "k")
    assert decision.reason == "agreement 0.00 (box_f1@0.5) is below the project threshold 0.80"


def test_review_all_sends_even_full_agreement_to_review() -> None:
    decision = decide(assess([A, A], BOXES), True, 0.5, ReviewPolicy("all"), "k")
    assert decision.outcome == "review_required" and decision.agreement == 1.0
    assert "review: all" in decision.reason


def test_review_none_still_reviews_below_threshold() -> None:
    assert decide(assess([A, B], BOXES), True, 0.8, ReviewPolicy("none"), "k").outcome == "review_required"
    assert decide(assess([A, A], BOXES), True, 0.8, ReviewPolicy("none"), "k").outcome == "accepted"


def test_sample_is_deterministic_and_close_to_its_rate() -> None:
    policy = parse_review("sample:0.25")
    drawn = [policy.samples(f"item-{i}:1") for i in range(4000)]
    assert drawn == [policy.samples(f"item-{i}:1") for i in range(4000)]
    assert 0.22 < sum(drawn) / len(drawn) < 0.28
    key = next(f"item-{i}:1" for i in range(4000) if policy.samples(f"item-{i}:1"))
    assert decide(assess([A], BOXES), True, 0.5, policy, key).reason == "sampled for review (review: sample:0.25)"
    assert not parse_review("sample:0").samples(key) and parse_review("sample:1").samples(key)


def test_no_submissions_is_an_error() -> None:
    with pytest.raises(ValueError, match="no submissions"):
        assess([], BOXES)


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
    with pytest.raises(PolicyError, match="gold_min_accuracy: must be between 0 and 1"):
        check_fraction("gold_min_accuracy", value)


def test_merged_result_is_json_serialisable() -> None:
    json.dumps(assess([A, A], BOXES).merged)
