"""Validation rules (domain only, no services)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from annotary.events.v1 import events_pb2
from annotary_qa.domain.schema import LabelSchema, Rules, SchemaError, parse_schema, parse_schema_json
from annotary_qa.domain.validation import RULES, Violation, validate_result, validate_result_json

IMAGE_SCHEMA = parse_schema({
    "modality": "image",
    "labels": [{"name": "cat"}, {"name": "dog", "color": "#f00"}],
    "tools": ["bbox", "polygon", "choice"],
    "choices": [
        {"name": "quality", "options": ["good", "blurry"]},
        {"name": "tags", "options": ["indoor", "outdoor", "night"], "multiple": True},
    ],
    "rules": {"min_box_size": 4},
})
TEXT_SCHEMA = parse_schema({"modality": "text", "labels": [{"name": "PER"}, {"name": "ORG"}], "tools": ["span"]})
IMAGE = events_pb2.ItemSnapshot(item_id="i1", modality="image", width=100, height=80)
TEXT = "Ada works at ACME.  "
TEXT_ITEM = events_pb2.ItemSnapshot(item_id="t1", modality="text", text=TEXT)


def box(**fields: Any) -> dict[str, Any]:
    return {"type": "bbox", "label": "cat", "x": 10, "y": 10, "w": 20, "h": 20, **fields}


def span(start: Any, end: Any, label: str = "PER") -> dict[str, Any]:
    return {"type": "span", "label": label, "start": start, "end": end}


def rules(violations: list[Violation]) -> list[str]:
    return [v.rule for v in violations]


# -- whole result ------------------------------------------------------------------------------
@pytest.mark.parametrize("result", [
    [],
    [box()],
    [box(id="r1", score=0.9, attributes={"occluded": True})],
    [box(x=0, y=0, w=100, h=80)],                    # exactly the image
    [box(x=-0.4, y=-0.5, w=100.4, h=80.5)],          # inside the 0.5 px tolerance
    [box(x=10.25, y=3.5, w=4, h=4)],                 # exactly the minimum size
    [{"type": "polygon", "label": "dog", "points": [[0, 0], [10, 0], [5, 5.5]]}],
    [{"type": "choice", "name": "quality", "value": "good"}],
    [{"type": "choice", "name": "tags", "value": ["indoor", "night"]}],
    [{"type": "choice", "name": "tags", "value": "outdoor"}],  # one value is fine for a multiple choice
])
def test_valid_image_results(result: list[Any]) -> None:
    assert validate_result(result, IMAGE_SCHEMA, IMAGE) == []


@pytest.mark.parametrize("text, rule", [
    ("", "result_is_json"),
    ("[{]", "result_is_json"),
    ('[{"type": "bbox", "x": NaN}]', "result_is_json"),
    ("[1e999999]", "result_is_list"),  # parses to inf inside a list: the element is not an object
    ('[{"type": "bbox", "label": "cat\\u0000"}]', "result_is_json"),
    ('{"type": "bbox"}', "result_is_list"),
    ('"cat"', "result_is_list"),
    ("null", "result_is_list"),
])
def test_result_json_and_list(text: str, rule: str) -> None:
    violations = validate_result_json(text, IMAGE_SCHEMA, IMAGE)
    assert rules(violations) == [rule]
    assert violations[0].message.startswith(("result:", "region 0:"))


def test_whole_result_violation_has_region_index_minus_one() -> None:
    [violation] = validate_result_json("{}", IMAGE_SCHEMA, IMAGE)
    assert violation == Violation("result_is_list", "result: must be a JSON list of regions, got an object", -1)


def test_non_object_region_is_named_by_index() -> None:
    [violation] = validate_result([box(), "cat"], IMAGE_SCHEMA, IMAGE)
    assert violation == Violation("result_is_list", "region 1: must be a JSON object, got a string", 1)


# -- region type and label ---------------------------------------------------------------------
@pytest.mark.parametrize("region, message", [
    ({"type": "span", "label": "cat", "start": 0, "end": 1},
     "region 0: type \"span\" is not allowed by the schema's tools (allowed: bbox, polygon, choice)"),
    ({"type": "circle", "label": "cat"},
     "region 0: type \"circle\" is not allowed by the schema's tools (allowed: bbox, polygon, choice)"),
    ({"label": "cat", "x": 1}, 'region 0: field "type" is missing (allowed: bbox, polygon, choice)'),
    ({"type": ["bbox"]},
     "region 0: type [\"bbox\"] is not allowed by the schema's tools (allowed: bbox, polygon, choice)"),
])
def test_region_type_allowed(region: dict[str, Any], message: str) -> None:
    assert validate_result([region], IMAGE_SCHEMA, IMAGE) == [Violation("region_type_allowed", message, 0)]


def test_label_not_in_schema_names_label_index_and_allowed() -> None:
    result = [box(), box(), box(label="dgo")]
    assert validate_result(result, IMAGE_SCHEMA, IMAGE) == [
        Violation("label_in_schema", 'region 2: label "dgo" is not in the schema (allowed: cat, dog)', 2)
    ]


@pytest.mark.parametrize("label, expected", [
    (None, 'region 0: label null is not in the schema (allowed: cat, dog)'),
    ("Cat", 'region 0: label "Cat" is not in the schema (allowed: cat, dog)'),
    (3, "region 0: label 3 is not in the schema (allowed: cat, dog)"),
])
def test_label_in_schema_variants(label: Any, expected: str) -> None:
    assert validate_result([box(label=label)], IMAGE_SCHEMA, IMAGE) == [Violation("label_in_schema", expected, 0)]


def test_missing_label() -> None:
    region = box()
    del region["label"]
    assert validate_result([region], IMAGE_SCHEMA, IMAGE) == [
        Violation("label_in_schema", 'region 0: field "label" is missing (allowed: cat, dog)', 0)
    ]


@pytest.mark.parametrize("region", [
    {"type": "polyline", "points": [[0, 0], [5, 5]]},
    {"type": "keypoints", "points": [[1, 1, 2]]},
    {"type": "mask", "rle": {"size": [80, 100], "counts": [0, 8000]}},
])
def test_every_labeled_type_checks_its_label(region: dict[str, Any]) -> None:
    schema = parse_schema({"modality": "image", "labels": [{"name": "a"}], "tools": [region["type"]]})
    assert rules(validate_result([{**region, "label": "b"}], schema, IMAGE)) == ["label_in_schema"]
    assert validate_result([{**region, "label": "a"}], schema, IMAGE) == []


def test_relation_checks_its_label() -> None:
    schema = parse_schema({"modality": "text", "labels": [{"name": "a"}], "tools": ["span", "relation"]})
    spans_ = [{**span(0, 3, "a"), "id": 1}, {**span(4, 9, "a"), "id": 2}]
    assert rules(validate_result([*spans_, {"type": "relation", "label": "b", "from": 1, "to": 2}], schema,
                                 TEXT_ITEM)) == ["label_in_schema"]
    assert validate_result([*spans_, {"type": "relation", "label": "a", "from": 1, "to": 2}], schema, TEXT_ITEM) == []


# -- bbox --------------------------------------------------------------------------------------
@pytest.mark.parametrize("fields, message", [
    ({"x": "10"}, 'region 0: field "x" must be a finite number, got "10"'),
    ({"y": None}, 'region 0: field "y" must be a finite number, got null'),
    ({"w": True}, 'region 0: field "w" must be a finite number, got true'),
    ({"h": 10**400}, 'region 0: field "h" must be a finite number, got '),
    ({"x": float("inf")}, 'region 0: field "x" must be a finite number, got Infinity'),
])
def test_bbox_fields(fields: dict[str, Any], message: str) -> None:
    [violation] = validate_result([box(**fields)], IMAGE_SCHEMA, IMAGE)
    assert violation.rule == "bbox_fields" and violation.region_index == 0
    assert violation.message.startswith(message)


def test_bbox_missing_fields_each_named() -> None:
    violations = validate_result([{"type": "bbox", "label": "cat", "x": 1}], IMAGE_SCHEMA, IMAGE)
    assert rules(violations) == ["bbox_fields"] * 3
    assert [v.message for v in violations] == [
        f'region 0: field "{f}" is missing (bbox needs x, y, w, h as finite numbers)' for f in ("y", "w", "h")
    ]


@pytest.mark.parametrize("fields, message", [
    ({"x": -1}, 'region 0: field "x" is -1, left of or above the image (allowed: 0 <= x, x + w <= 100)'),
    ({"y": -0.6}, 'region 0: field "y" is -0.6, left of or above the image (allowed: 0 <= y, y + h <= 80)'),
    ({"x": 90, "w": 10.6},
     'region 0: fields "x" + "w" = 100.6 exceed the image width 100 (allowed: 0 <= x, x + w <= 100)'),
    ({"y": 70, "h": 11},
     'region 0: fields "y" + "h" = 81 exceed the image height 80 (allowed: 0 <= y, y + h <= 80)'),
])
def test_bbox_inside_image(fields: dict[str, Any], message: str) -> None:
    assert validate_result([box(**fields)], IMAGE_SCHEMA, IMAGE) == [Violation("bbox_inside_image", message, 0)]


def test_bbox_inside_image_skipped_when_size_unknown() -> None:
    unknown = events_pb2.ItemSnapshot(item_id="i2", modality="image")
    assert validate_result([box(x=5000, y=5000)], IMAGE_SCHEMA, unknown) == []


@pytest.mark.parametrize("fields, bad", [
    ({"w": 3.9}, ["w"]),
    ({"h": 0}, ["h"]),
    ({"w": -5, "h": -5}, ["w", "h"]),
])
def test_bbox_min_size(fields: dict[str, Any], bad: list[str]) -> None:
    violations = validate_result([box(**fields)], IMAGE_SCHEMA, IMAGE)
    assert rules(violations) == ["bbox_min_size"] * len(bad)
    for field, violation in zip(bad, violations, strict=True):
        assert violation.message.startswith(f'region 0: field "{field}" is ')
        assert violation.message.endswith("below the minimum box size (allowed: w, h >= 4)")


def test_bbox_min_size_defaults_to_one() -> None:
    schema = parse_schema({"modality": "image", "labels": [{"name": "cat"}], "tools": ["bbox"]})
    assert schema.min_box_size == 1.0
    assert rules(validate_result([box(w=0.9, h=1)], schema, IMAGE)) == ["bbox_min_size"]
    assert validate_result([box(w=1, h=1)], schema, IMAGE) == []


def test_several_violations_in_several_regions() -> None:
    result = [box(), box(label="bird", x=95), {"type": "polygon", "label": "dog", "points": [[0, 0]]}]
    assert [(v.rule, v.region_index) for v in validate_result(result, IMAGE_SCHEMA, IMAGE)] == [
        ("label_in_schema", 1), ("bbox_inside_image", 1), ("polygon_min_points", 2),
    ]


# -- spans: offsets in Unicode code points ---------------------------------------------------
@pytest.mark.parametrize("start, end", [(0, 3), (13, 17), (0, 18), (13, 20)])
def test_valid_spans(start: int, end: int) -> None:
    assert validate_result([span(start, end)], TEXT_SCHEMA, TEXT_ITEM) == []


@pytest.mark.parametrize("start, end, field, got", [
    ("0", 3, "start", '"0"'),
    (0, 3.0, "end", "3.0"),
    (None, 3, "start", "null"),
    (0, False, "end", "false"),
])
def test_span_fields(start: Any, end: Any, field: str, got: str) -> None:
    assert validate_result([span(start, end)], TEXT_SCHEMA, TEXT_ITEM) == [
        Violation("span_fields", f'region 0: field "{field}" must be an integer code-point offset, got {got}', 0)
    ]


def test_span_fields_missing() -> None:
    assert rules(validate_result([{"type": "span", "label": "PER"}], TEXT_SCHEMA, TEXT_ITEM)) == ["span_fields"] * 2


@pytest.mark.parametrize("start, end, message", [
    (-1, 3, 'region 0: field "start" is -1, before the text'),
    (3, 3, 'region 0: field "end" is 3, not after "start" 3'),
    (5, 2, 'region 0: field "end" is 2, not after "start" 5'),
    (13, 21, 'region 0: field "end" is 21, beyond the end of the text'),
])
def test_span_inside_text(start: int, end: int, message: str) -> None:
    [violation] = validate_result([span(start, end)], TEXT_SCHEMA, TEXT_ITEM)
    assert violation.rule == "span_inside_text"
    assert violation.message == f"{message} (allowed: 0 <= start < end <= 20, the text length in code points)"


@pytest.mark.parametrize("start, end", [(3, 4), (18, 20), (12, 13)])
def test_span_not_whitespace(start: int, end: int) -> None:
    [violation] = validate_result([span(start, end)], TEXT_SCHEMA, TEXT_ITEM)
    assert violation.rule == "span_not_whitespace"
    assert violation.message.startswith(f"region 0: span [{start}, {end}) covers only whitespace")


# "🐍" is one code point (two UTF-16 units, four UTF-8 bytes); "❤️" is two code points (U+2764 U+FE0F).
EMOJI_TEXT = "🐍 loves ❤️ and 👩‍💻 code"


@pytest.mark.parametrize("start, end, covered", [
    (0, 1, "🐍"),
    (2, 7, "loves"),
    (8, 10, "❤️"),
    (15, 18, "👩‍💻"),            # ZWJ sequence: three code points
    (19, 23, "code"),
])
def test_emoji_spans_count_code_points(start: int, end: int, covered: str) -> None:
    assert EMOJI_TEXT[start:end] == covered
    item = events_pb2.ItemSnapshot(item_id="e", modality="text", text=EMOJI_TEXT)
    assert validate_result([span(start, end)], TEXT_SCHEMA, item) == []


def test_emoji_span_end_past_code_points_is_rejected() -> None:
    item = events_pb2.ItemSnapshot(item_id="e", modality="text", text=EMOJI_TEXT)
    assert len(EMOJI_TEXT) == 23 and len(EMOJI_TEXT.encode("utf-16-le")) // 2 == 26
    # an end counted in UTF-16 units (what a JavaScript client gets from .length) is out of range
    [violation] = validate_result([span(19, 26)], TEXT_SCHEMA, item)
    assert violation.rule == "span_inside_text"
    assert "<= 23" in violation.message


def test_emoji_text_through_the_wire_keeps_code_points() -> None:
    item = events_pb2.ItemSnapshot(item_id="e", modality="text", text=EMOJI_TEXT)
    decoded = events_pb2.ItemSnapshot.FromString(item.SerializeToString())
    assert validate_result_json(json.dumps([span(19, 23)]), TEXT_SCHEMA, decoded) == []


# -- choices -----------------------------------------------------------------------------------
@pytest.mark.parametrize("region, message", [
    ({"type": "choice", "name": "mood", "value": "good"},
     'region 0: choice "mood" is not in the schema (allowed: quality, tags)'),
    ({"type": "choice", "value": "good"}, 'region 0: field "name" is missing (allowed: quality, tags)'),
    ({"type": "choice", "name": "quality", "value": "sharp"},
     'region 0: value "sharp" is not an option of choice "quality" (allowed: good, blurry)'),
    ({"type": "choice", "name": "quality", "value": ["good"]},
     'region 0: field "value" is a list but choice "quality" takes one value (allowed: one of good, blurry)'),
    ({"type": "choice", "name": "quality"},
     'region 0: field "value" must be one option of choice "quality", missing (allowed: good, blurry)'),
    ({"type": "choice", "name": "tags", "value": 3},
     'region 0: field "value" must be an option or a list of options of choice "tags", got 3 '
     "(allowed: indoor, outdoor, night)"),
    ({"type": "choice", "name": "tags", "value": []},
     'region 0: field "value" is an empty list (allowed: one or more of indoor, outdoor, night)'),
])
def test_choice_known(region: dict[str, Any], message: str) -> None:
    assert validate_result([region], IMAGE_SCHEMA, IMAGE) == [Violation("choice_known", message, 0)]


def test_choice_each_bad_value_of_a_multiple_choice() -> None:
    region = {"type": "choice", "name": "tags", "value": ["indoor", "beach", 7]}
    assert [v.message for v in validate_result([region], IMAGE_SCHEMA, IMAGE)] == [
        'region 0: value "beach" is not an option of choice "tags" (allowed: indoor, outdoor, night)',
        'region 0: value 7 is not an option of choice "tags" (allowed: indoor, outdoor, night)',
    ]


def test_choice_when_the_schema_has_none() -> None:
    schema = parse_schema({"modality": "text", "labels": [{"name": "x"}], "tools": ["choice"]})
    [violation] = validate_result([{"type": "choice", "name": "q", "value": "a"}], schema, TEXT_ITEM)
    assert violation.message == ('region 0: choice "q" is not in the schema '
                                 "(allowed: none, the schema defines no choices)")


# -- polygons ----------------------------------------------------------------------------------
@pytest.mark.parametrize("points, message", [
    ([[0, 0], [1, 1]], 'region 0: field "points" has 2 point(s) (allowed: at least 3)'),
    ([], 'region 0: field "points" has 0 point(s) (allowed: at least 3)'),
    ([[0, 0], [1, 1], [2]],
     'region 0: field "points" must be a list of [x, y] number pairs, got [[0, 0], [1, 1], [2]] '
     "(allowed: at least 3 points)"),
    ("0,0 1,1 2,2", 'region 0: field "points" must be a list of [x, y] number pairs, got "0,0 1,1 2,2" '
     "(allowed: at least 3 points)"),
])
def test_polygon_min_points(points: Any, message: str) -> None:
    region = {"type": "polygon", "label": "dog", "points": points}
    assert validate_result([region], IMAGE_SCHEMA, IMAGE) == [Violation("polygon_min_points", message, 0)]


def test_rule_names_are_listed() -> None:
    assert set(RULES) == {
        "result_is_json", "result_is_list", "region_type_allowed", "label_in_schema", "bbox_fields",
        "bbox_inside_image", "bbox_min_size", "span_fields", "span_inside_text", "span_not_whitespace",
        "choice_known", "choice_unique", "choice_required", "polygon_min_points", "polygon_valid",
        "polyline_fields", "points_inside_image", "keypoints_fields", "mask_fields", "mask_size", "span_overlap",
        "exclusive_classes", "region_id_unique", "relation_endpoints", "segment_fields", "segment_inside_media",
        "track_fields", "track_keyframes", "track_inside_frame", "track_id_unique",
    }


# -- the schema document itself ----------------------------------------------------------------
def test_schema_parses() -> None:
    assert LabelSchema(
        modality="image", labels=("cat", "dog"), tools=("bbox", "polygon", "choice"),
        choices=IMAGE_SCHEMA.choices, rules=Rules(min_box_size=4.0),
    ) == IMAGE_SCHEMA
    assert IMAGE_SCHEMA.choice("tags") is not None and IMAGE_SCHEMA.choice("tags").multiple  # type: ignore[union-attr]


@pytest.mark.parametrize("doc, field", [
    ([], "schema"),
    ({"labels": [{"name": "a"}], "tools": ["bbox"]}, "schema.modality"),
    ({"modality": "pdf", "labels": [{"name": "a"}], "tools": ["bbox"]}, "schema.modality"),
    ({"modality": "image", "labels": [], "tools": ["bbox"]}, "schema.labels"),
    ({"modality": "image", "tools": ["bbox"]}, "schema.labels"),
    ({"modality": "image", "labels": ["cat"], "tools": ["bbox"]}, "schema.labels[0]"),
    ({"modality": "image", "labels": [{"color": "#fff"}], "tools": ["bbox"]}, "schema.labels[0].name"),
    ({"modality": "image", "labels": [{"name": " "}], "tools": ["bbox"]}, "schema.labels[0].name"),
    ({"modality": "image", "labels": [{"name": "a"}, {"name": "a"}], "tools": ["bbox"]}, "schema.labels[1].name"),
    ({"modality": "image", "labels": [{"name": "a"}]}, "schema.tools"),
    ({"modality": "image", "labels": [{"name": "a"}], "tools": ["bbox", "circle"]}, "schema.tools[1]"),
    ({"modality": "image", "labels": [{"name": "a"}], "tools": ["choice"], "choices": {}}, "schema.choices"),
    ({"modality": "image", "labels": [{"name": "a"}], "tools": ["choice"], "choices": [{"name": "q"}]},
     "schema.choices[0].options"),
    ({"modality": "image", "labels": [{"name": "a"}], "tools": ["choice"],
      "choices": [{"name": "q", "options": ["x", "x"]}]}, "schema.choices[0].options"),
    ({"modality": "image", "labels": [{"name": "a"}], "tools": ["choice"],
      "choices": [{"name": "q", "options": ["x"], "multiple": "yes"}]}, "schema.choices[0].multiple"),
    ({"modality": "image", "labels": [{"name": "a"}], "tools": ["choice"],
      "choices": [{"name": "q", "options": ["x"]}, {"name": "q", "options": ["y"]}]}, "schema.choices[1].name"),
    ({"modality": "image", "labels": [{"name": "a"}], "tools": ["bbox"], "rules": {"min_box_size": -1}},
     "schema.rules.min_box_size"),
    ({"modality": "image", "labels": [{"name": "a"}], "tools": ["bbox"], "rules": []}, "schema.rules"),
    ({"modality": "image", "labels": [], "tools": ["bbox", "choice"]}, "schema.labels"),
    ({"modality": "image", "labels": [{"name": "a"}], "tools": ["choice"],
      "choices": [{"name": "q", "options": ["x"], "required": 1}]}, "schema.choices[0].required"),
    ({"modality": "image", "labels": [{"name": "a"}], "tools": ["choice"], "choices": [{"name": "q", "options": ["x"]}],
      "rules": {"required_choices": ["r"]}}, "schema.rules.required_choices[0]"),
    ({"modality": "image", "labels": [{"name": "a"}], "tools": ["bbox"], "rules": {"required_choices": "q"}},
     "schema.rules.required_choices"),
    ({"modality": "text", "labels": [{"name": "a"}], "tools": ["span"], "rules": {"allow_overlap": "no"}},
     "schema.rules.allow_overlap"),
    ({"modality": "image", "labels": [{"name": "a"}], "tools": ["polygon"], "rules": {"allow_self_intersection": 0}},
     "schema.rules.allow_self_intersection"),
    ({"modality": "image", "labels": [{"name": "a"}, {"name": "b"}], "tools": ["bbox"],
      "rules": {"exclusive": [["a"]]}}, "schema.rules.exclusive[0]"),
    ({"modality": "image", "labels": [{"name": "a"}, {"name": "b"}], "tools": ["bbox"],
      "rules": {"exclusive": [["a", "zz"]]}}, "schema.rules.exclusive[0][1]"),
    ({"modality": "image", "labels": [{"name": "a"}], "tools": ["bbox"], "rules": {"exclusive": {"a": "b"}}},
     "schema.rules.exclusive"),
    ({"modality": "image", "labels": [{"name": "a"}], "tools": ["bbox"], "rules": {"iou_threshold": 0}},
     "schema.rules.iou_threshold"),
    ({"modality": "image", "labels": [{"name": "a"}], "tools": ["keypoints"], "rules": {"keypoint_sigmas": [0]}},
     "schema.rules.keypoint_sigmas"),
])
def test_schema_errors_name_the_field(doc: Any, field: str) -> None:
    with pytest.raises(SchemaError) as info:
        parse_schema(doc)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")


def test_schema_error_lists_allowed_values() -> None:
    with pytest.raises(SchemaError, match=r'schema.tools\[0\]: "circle" is not a known tool \(allowed: bbox, polygon'):
        parse_schema({"modality": "image", "labels": [{"name": "a"}], "tools": ["circle"]})
    modality = r'schema.modality: "pdf" is not allowed \(allowed: image, text, audio, video\)'
    with pytest.raises(SchemaError, match=modality):
        parse_schema({"modality": "pdf", "labels": [{"name": "a"}], "tools": ["bbox"]})


@pytest.mark.parametrize("text", ["{", '{"modality": NaN}', '{"modality": "image\\u0000"}'])
def test_schema_json_errors(text: str) -> None:
    with pytest.raises(SchemaError) as info:
        parse_schema_json(text)
    assert info.value.field == "schema_json"


# -- rules declared in schema.rules (issue 4) --------------------------------------------------
RICH_SCHEMA = parse_schema({
    "modality": "image",
    "labels": [{"name": "cat"}, {"name": "dog"}, {"name": "empty"}],
    "tools": ["bbox", "polygon", "polyline", "keypoints", "mask", "relation", "choice"],
    "choices": [{"name": "quality", "options": ["good", "blurry"], "required": True},
                {"name": "scene", "options": ["indoor", "outdoor"]}],
    "rules": {"exclusive": [["empty", "cat", "dog"], ["indoor", "empty"]], "keypoint_sigmas": [0.05, 0.05]},
})
GOOD = {"type": "choice", "name": "quality", "value": "good"}


def rich(*regions: dict[str, Any]) -> list[Violation]:
    return validate_result([GOOD, *regions], RICH_SCHEMA, IMAGE)


def test_rich_schema_accepts_a_sound_result() -> None:
    assert rich(
        {**box(), "id": "a"}, {**box(x=50), "id": "b"},
        {"type": "relation", "label": "cat", "from": "a", "to": "b"},
        {"type": "polygon", "label": "cat", "points": [[0, 0], [10, 0], [10, 10], [0, 10], [0, 10]]},
        {"type": "keypoints", "label": "cat", "points": [[1, 1, 2], [500, 500, 0]]},  # unlabelled: not checked
        {"type": "mask", "label": "cat", "rle": {"size": [80, 100], "counts": "Z[2:V200000000000000000fe4"}},
        {"type": "mask", "label": "cat", "rle": {"size": [80, 100], "counts": [0, 8000]}},
        {"type": "choice", "name": "scene", "value": "outdoor"},
    ) == []


def test_required_choice() -> None:
    assert validate_result([box()], RICH_SCHEMA, IMAGE) == [Violation(
        "choice_required", 'result: required choice "quality" is not answered (required: quality)', -1)]
    required_by_rule = parse_schema({"modality": "image", "labels": [{"name": "a"}], "tools": ["choice"],
                                     "choices": [{"name": "q", "options": ["x"]}, {"name": "r", "options": ["y"]}],
                                     "rules": {"required_choices": ["r", "q"]}})
    assert [v.message for v in validate_result([], required_by_rule, IMAGE)] == [
        'result: required choice "r" is not answered (required: r, q)',
        'result: required choice "q" is not answered (required: r, q)',
    ]


def test_choice_answered_twice() -> None:
    assert rich({"type": "choice", "name": "quality", "value": "blurry"}) == [Violation(
        "choice_unique", 'region 1: choice "quality" is already answered in region 0 (allowed: one answer per choice)',
        1)]


def test_exclusive_classes_across_labels_and_options() -> None:
    [v] = rich(box(label="empty"), box(x=40, label="dog"))
    assert v == Violation("exclusive_classes", 'result: "empty" and "dog" are mutually exclusive (regions 1, 2; '
                          "rules.exclusive[0]: empty, cat, dog)", -1)
    [v] = rich({"type": "choice", "name": "scene", "value": "indoor"}, box(label="empty"))
    assert v == Violation("exclusive_classes", 'result: "indoor" and "empty" are mutually exclusive (regions 1, 2; '
                          "rules.exclusive[1]: indoor, empty)", -1)
    assert rich(box(label="cat"), box(x=40, label="cat")) == []  # one class twice is fine


def test_exclusive_options_of_a_multiple_choice() -> None:
    schema = parse_schema({"modality": "image", "labels": [], "tools": ["choice"],
                           "choices": [{"name": "tags", "options": ["day", "night"], "multiple": True}],
                           "rules": {"exclusive": [["day", "night"]]}})
    [v] = validate_result([{"type": "choice", "name": "tags", "value": ["day", "night"]}], schema, IMAGE)
    assert v.rule == "exclusive_classes" and '"day" and "night"' in v.message


@pytest.mark.parametrize("points, message", [
    ([[0, 0], [10, 10], [10, 0], [0, 10]], "region 1: polygon edges 0 and 2 intersect (allowed: a simple polygon "
     "whose edges meet only at shared vertices; rules.allow_self_intersection is false)"),
    ([[0, 0], [10, 0], [5, 0]], "region 1: polygon edges 0 and 1 intersect (allowed: a simple polygon whose edges "
     "meet only at shared vertices; rules.allow_self_intersection is false)"),
    ([[0, 0], [10, 0], [10, 10], [5, 0], [0, 10]], "region 1: polygon edges 0 and 2 intersect (allowed: a simple "
     "polygon whose edges meet only at shared vertices; rules.allow_self_intersection is false)"),
])
def test_polygon_valid(points: list[list[float]], message: str) -> None:
    assert rich({"type": "polygon", "label": "cat", "points": points}) == [Violation("polygon_valid", message, 1)]


def test_polygon_self_intersection_allowed_by_the_schema_but_not_zero_area() -> None:
    schema = parse_schema({"modality": "image", "labels": [{"name": "a"}], "tools": ["polygon"],
                           "rules": {"allow_self_intersection": True}})
    bowtie = {"type": "polygon", "label": "a", "points": [[0, 0], [10, 10], [10, 0], [0, 10]]}
    assert validate_result([bowtie], schema, IMAGE) == []
    flat = {"type": "polygon", "label": "a", "points": [[0, 0], [5, 0], [10, 0]]}
    assert validate_result([flat], schema, IMAGE) == [Violation(
        "polygon_valid", "region 0: polygon has zero area (allowed: a polygon enclosing some area)", 0)]


def test_polygon_needs_three_distinct_points() -> None:
    [v] = rich({"type": "polygon", "label": "cat", "points": [[0, 0], [0, 0], [5, 5], [0, 0]]})
    assert v == Violation("polygon_min_points",
                          'region 1: field "points" has 2 distinct point(s) (allowed: at least 3)', 1)


def test_points_inside_image() -> None:
    [v] = rich({"type": "polygon", "label": "cat", "points": [[0, 0], [101, 0], [50, 50]]})
    assert v == Violation("points_inside_image", "region 1: point 1 (101, 0) is outside the image 100x80 "
                          "(allowed: 0 <= x <= 100, 0 <= y <= 80)", 1)
    [v] = rich({"type": "keypoints", "label": "cat", "points": [[1, 1, 2], [5, -3, 1]]})
    assert v.rule == "points_inside_image" and "point 1 (5, -3)" in v.message
    [v] = rich({"type": "polyline", "label": "cat", "points": [[1, 1], [5, 90]]})
    assert v.rule == "points_inside_image"


@pytest.mark.parametrize("points", [None, [], [[1, 1]], [[1, 1], [2, "x"]]])
def test_polyline_fields(points: Any) -> None:
    [v] = rich({"type": "polyline", "label": "cat", "points": points})
    assert v.rule == "polyline_fields" and v.message.startswith('region 1: field "points" must be a list of at least 2')


@pytest.mark.parametrize("points, part", [
    ([[1, 1, 3], [1, 1, 2]], "v 0 (not labelled), 1 (hidden) or 2 (visible)"),
    ([[1, 1]], "must be a non-empty list of [x, y, v]"),
    ([[1, 1, 2]], 'has 1 keypoint(s) (allowed: 2, one per rules.keypoint_sigmas)'),
])
def test_keypoints_fields(points: Any, part: str) -> None:
    [v] = rich({"type": "keypoints", "label": "cat", "points": points})
    assert v.rule == "keypoints_fields" and part in v.message


@pytest.mark.parametrize("mask, part", [
    ("x", 'must be an object, got "x"'),
    ({"size": [80], "counts": "0"}, "has size [80], not [h, w] positive integers"),
    ({"size": [80, 100], "counts": 5}, "has counts 5"),
    ({"size": [80, 100], "counts": "\x7f"}, "has counts that do not decode"),
    ({"size": [80, 100], "counts": [0, 10]}, "has runs adding up to 10 pixels, not h * w = 8000"),
    ({"size": [80, 100], "counts": [8000]}, "covers no pixel"),
])
def test_mask_fields(mask: Any, part: str) -> None:
    [v] = rich({"type": "mask", "label": "cat", "rle": mask})
    assert v.rule == "mask_fields" and part in v.message


def test_mask_size_must_be_the_images() -> None:
    [v] = rich({"type": "mask", "label": "cat", "rle": {"size": [100, 80], "counts": [0, 8000]}})
    assert v == Violation("mask_size", 'region 1: field "rle.size" is [100, 80] (allowed: [80, 100], the image\'s '
                          "[height, width])", 1)


def test_region_ids_unique_and_relation_endpoints() -> None:
    [v] = rich({**box(), "id": "a"}, {**box(x=40), "id": "a"})
    assert v == Violation("region_id_unique", 'region 2: "id" "a" is already the id of region 1 (allowed: ids unique '
                          "within a result)", 2)
    [v] = rich({**box(), "id": "a"}, {"type": "relation", "label": "cat", "from": "a", "to": "zz"})
    assert v == Violation("relation_endpoints", 'region 2: field "to" "zz" is not the id of a region of the result '
                          '(allowed: "a")', 2)
    [v] = rich({**box(), "id": "a"}, {"type": "relation", "label": "cat", "from": "a"})
    assert v.rule == "relation_endpoints" and 'field "to" must name the "id"' in v.message
    [v] = rich({**box(), "id": "a"}, {"type": "relation", "label": "cat", "from": "a", "to": "r", "id": "r"})
    assert v.rule == "relation_endpoints" and "names a relation" in v.message


def test_span_overlap_when_the_schema_forbids_it() -> None:
    schema = parse_schema({"modality": "text", "labels": [{"name": "PER"}, {"name": "ORG"}], "tools": ["span"],
                           "rules": {"allow_overlap": False}})
    ok = [span(0, 3), span(3, 8, "ORG")]  # touching is fine (ends are exclusive)
    assert validate_result(ok, schema, TEXT_ITEM) == []
    assert validate_result([span(0, 5), span(3, 8, "ORG")], TEXT_SCHEMA, TEXT_ITEM) == []  # allowed by default
    assert validate_result([span(3, 8, "ORG"), span(0, 5)], schema, TEXT_ITEM) == [Violation(
        "span_overlap", "region 1: span [0, 5) overlaps region 0's span [3, 8) (allowed: no overlapping spans; "
        "rules.allow_overlap is false)", 1)]


def test_choice_only_schema_may_have_no_labels() -> None:
    schema = parse_schema({"modality": "text", "tools": ["choice"], "choices": [{"name": "q", "options": ["x"]}]})
    assert schema.labels == ()
    assert validate_result([{"type": "choice", "name": "q", "value": "x"}], schema, TEXT_ITEM) == []
