"""Validation rules (domain only, no services)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from annotary.events.v1 import events_pb2
from annotary_qa.domain.schema import LabelSchema, SchemaError, parse_schema, parse_schema_json
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


@pytest.mark.parametrize("rtype", ["polyline", "keypoints", "mask", "relation"])
def test_every_labeled_type_checks_its_label(rtype: str) -> None:
    schema = parse_schema({"modality": "image", "labels": [{"name": "a"}], "tools": [rtype]})
    assert rules(validate_result([{"type": rtype, "label": "b"}], schema, IMAGE)) == ["label_in_schema"]
    assert validate_result([{"type": rtype, "label": "a"}], schema, IMAGE) == []


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
        "choice_known", "polygon_min_points",
    }


# -- the schema document itself ----------------------------------------------------------------
def test_schema_parses() -> None:
    assert LabelSchema(
        modality="image", labels=("cat", "dog"), tools=("bbox", "polygon", "choice"),
        choices=IMAGE_SCHEMA.choices, min_box_size=4.0,
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
