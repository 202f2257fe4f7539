"""Validation rules: a result (a JSON list of regions) checked against the label schema and the item.

Pure functions. Every violation names its rule, the region index (-1 for the whole result), the field
and what is allowed, e.g. ``region 2: label "dgo" is not in the schema (allowed: cat, dog)``.
Coordinates are pixels of the original image; span offsets are Unicode code points of the original
text (Python ``str`` indices), end exclusive.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from annotary_qa.domain.schema import LabelSchema, has_nul, reject_constant, show

# The rule names, as they appear in Violation.rule.
RULES: tuple[str, ...] = (
    "result_is_json",
    "result_is_list",
    "region_type_allowed",
    "label_in_schema",
    "bbox_fields",
    "bbox_inside_image",
    "bbox_min_size",
    "span_fields",
    "span_inside_text",
    "span_not_whitespace",
    "choice_known",
    "polygon_min_points",
)

BBOX_TOLERANCE_PX = 0.5
# Region types whose "label" must be one of the schema's labels ("choice" names a choice instead).
LABELED_TYPES = frozenset({"bbox", "polygon", "polyline", "keypoints", "mask", "span", "relation"})


class ItemFacts(Protocol):
    """What the rules need to know about the item; ``events_pb2.ItemSnapshot`` fits."""

    @property
    def width(self) -> int: ...

    @property
    def height(self) -> int: ...

    @property
    def text(self) -> str: ...


@dataclass(frozen=True)
class Violation:
    rule: str
    message: str
    region_index: int = -1


# -- entry points ------------------------------------------------------------------------------
def parse_result_json(result_json: str) -> tuple[Any, Violation | None]:
    """Decode a result; malformed JSON (or NaN/Infinity) is a ``result_is_json`` violation."""

    try:
        result = json.loads(result_json, parse_constant=reject_constant)
    except (ValueError, RecursionError) as exc:
        return None, Violation("result_is_json", f"result: is not valid JSON ({exc})", -1)
    if "\\u0000" in result_json and has_nul(result):
        return None, Violation("result_is_json", "result: must not contain NUL characters (\\u0000)", -1)
    return result, None


def validate_result_json(result_json: str, schema: LabelSchema, item: ItemFacts) -> list[Violation]:
    result, bad_json = parse_result_json(result_json)
    if bad_json is not None:
        return [bad_json]
    return validate_result(result, schema, item)


def validate_result(result: Any, schema: LabelSchema, item: ItemFacts) -> list[Violation]:
    if not isinstance(result, list):
        return [Violation("result_is_list", f"result: must be a JSON list of regions, got {_kind(result)}", -1)]
    violations: list[Violation] = []
    for index, region in enumerate(result):
        violations.extend(_validate_region(index, region, schema, item))
    return violations


# -- per region --------------------------------------------------------------------------------
def _validate_region(i: int, region: Any, schema: LabelSchema, item: ItemFacts) -> list[Violation]:
    if not isinstance(region, dict):
        return [Violation("result_is_list", f"region {i}: must be a JSON object, got {_kind(region)}", i)]
    rtype = region.get("type")
    if not isinstance(rtype, str) or rtype not in schema.tools:
        allowed = ", ".join(schema.tools)
        if "type" not in region:
            message = f'region {i}: field "type" is missing (allowed: {allowed})'
        else:
            message = f"region {i}: type {show(rtype)} is not allowed by the schema's tools (allowed: {allowed})"
        return [Violation("region_type_allowed", message, i)]
    violations = _check_label(i, region, schema) if rtype in LABELED_TYPES else []
    check = _SHAPE_CHECKS.get(rtype)
    if check is not None:
        violations.extend(check(i, region, schema, item))
    return violations


def _check_label(i: int, region: dict[str, Any], schema: LabelSchema) -> list[Violation]:
    label = region.get("label")
    if isinstance(label, str) and label in schema.labels:
        return []
    allowed = ", ".join(schema.labels)
    if "label" not in region:
        message = f'region {i}: field "label" is missing (allowed: {allowed})'
    else:
        message = f"region {i}: label {show(label)} is not in the schema (allowed: {allowed})"
    return [Violation("label_in_schema", message, i)]


def _check_bbox(i: int, region: dict[str, Any], schema: LabelSchema, item: ItemFacts) -> list[Violation]:
    bad = _number_fields(i, region, ("x", "y", "w", "h"), "bbox_fields", "bbox needs x, y, w, h")
    if bad:
        return bad
    x, y, w, h = (float(region[f]) for f in ("x", "y", "w", "h"))
    out: list[Violation] = []
    minimum = schema.min_box_size
    for field, size in (("w", w), ("h", h)):
        if size < minimum:
            out.append(Violation("bbox_min_size", f'region {i}: field "{field}" is {_fmt(size)}, below the minimum '
                                 f"box size (allowed: w, h >= {_fmt(minimum)})", i))
    if item.width > 0 and item.height > 0:  # 0 = size unknown: nothing to check against
        out.extend(_inside_image(i, x, y, w, h, item.width, item.height))
    return out


def _inside_image(i: int, x: float, y: float, w: float, h: float, width: int, height: int) -> list[Violation]:
    out: list[Violation] = []
    tol = BBOX_TOLERANCE_PX
    for pos, size, pos_name, size_name, limit, dim in (
        (x, w, "x", "w", width, "width"),
        (y, h, "y", "h", height, "height"),
    ):
        allowed = f"(allowed: 0 <= {pos_name}, {pos_name} + {size_name} <= {limit})"
        if pos < -tol:
            out.append(Violation("bbox_inside_image", f'region {i}: field "{pos_name}" is {_fmt(pos)}, '
                                 f"left of or above the image {allowed}", i))
        if pos + size > limit + tol:
            out.append(Violation("bbox_inside_image", f'region {i}: fields "{pos_name}" + "{size_name}" = '
                                 f"{_fmt(pos + size)} exceed the image {dim} {limit} {allowed}", i))
    return out


def _check_span(i: int, region: dict[str, Any], _schema: LabelSchema, item: ItemFacts) -> list[Violation]:
    bad: list[Violation] = []
    for field in ("start", "end"):
        value = region.get(field)
        if field not in region:
            bad.append(Violation("span_fields", f'region {i}: field "{field}" is missing (a span needs integer '
                                 '"start" and "end" code-point offsets)', i))
        elif isinstance(value, bool) or not isinstance(value, int):
            bad.append(Violation("span_fields", f'region {i}: field "{field}" must be an integer code-point offset, '
                                 f"got {show(value)}", i))
    if bad:
        return bad
    start, end, text = int(region["start"]), int(region["end"]), item.text
    n = len(text)  # code points
    allowed = f"(allowed: 0 <= start < end <= {n}, the text length in code points)"
    problem = None
    if start < 0:
        problem = f'field "start" is {start}, before the text'
    elif end <= start:
        problem = f'field "end" is {end}, not after "start" {start}'
    elif end > n:
        problem = f'field "end" is {end}, beyond the end of the text'
    if problem is not None:
        return [Violation("span_inside_text", f"region {i}: {problem} {allowed}", i)]
    if not text[start:end].strip():
        return [Violation("span_not_whitespace", f"region {i}: span [{start}, {end}) covers only whitespace "
                          f"{show(text[start:end])} (allowed: a span with at least one non-space character)", i)]
    return []


def _check_choice(i: int, region: dict[str, Any], schema: LabelSchema, _item: ItemFacts) -> list[Violation]:
    name = region.get("name")
    spec = schema.choice(name) if isinstance(name, str) else None
    if spec is None:
        names = ", ".join(c.name for c in schema.choices) or "none, the schema defines no choices"
        if "name" not in region:
            message = f'region {i}: field "name" is missing (allowed: {names})'
        else:
            message = f"region {i}: choice {show(name)} is not in the schema (allowed: {names})"
        return [Violation("choice_known", message, i)]
    options = ", ".join(spec.options)
    value = region.get("value")
    if isinstance(value, list):
        if not spec.multiple:
            return [Violation("choice_known", f'region {i}: field "value" is a list but choice "{spec.name}" takes '
                              f"one value (allowed: one of {options})", i)]
        if not value:
            return [Violation("choice_known", f'region {i}: field "value" is an empty list (allowed: one or more of '
                              f"{options})", i)]
        return [Violation("choice_known", f"region {i}: value {show(v)} is not an option of choice \"{spec.name}\" "
                          f"(allowed: {options})", i) for v in value if not _is_option(v, spec.options)]
    if isinstance(value, str):
        if value in spec.options:
            return []
        return [Violation("choice_known", f'region {i}: value {show(value)} is not an option of choice "{spec.name}" '
                          f"(allowed: {options})", i)]
    wanted = "an option or a list of options" if spec.multiple else "one option"
    got = "missing" if "value" not in region else f"got {show(value)}"
    return [Violation("choice_known", f'region {i}: field "value" must be {wanted} of choice "{spec.name}", {got} '
                      f"(allowed: {options})", i)]


def _check_polygon(i: int, region: dict[str, Any], _schema: LabelSchema, _item: ItemFacts) -> list[Violation]:
    points = region.get("points")
    if not isinstance(points, list) or not all(_is_xy(p) for p in points):
        got = "missing" if "points" not in region else f"got {show(points)}"
        return [Violation("polygon_min_points", f'region {i}: field "points" must be a list of [x, y] number pairs, '
                          f"{got} (allowed: at least 3 points)", i)]
    if len(points) < 3:
        return [Violation("polygon_min_points", f'region {i}: field "points" has {len(points)} point(s) '
                          "(allowed: at least 3)", i)]
    return []


_SHAPE_CHECKS: dict[str, Callable[[int, dict[str, Any], LabelSchema, ItemFacts], list[Violation]]] = {
    "bbox": _check_bbox,
    "span": _check_span,
    "choice": _check_choice,
    "polygon": _check_polygon,
}


# -- helpers -----------------------------------------------------------------------------------
def _is_finite_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an int too large for a float
        return False


def _is_xy(point: Any) -> bool:
    return isinstance(point, list) and len(point) == 2 and all(_is_finite_number(c) for c in point)


def _is_option(value: Any, options: tuple[str, ...]) -> bool:
    return isinstance(value, str) and value in options


def _number_fields(i: int, region: dict[str, Any], fields: tuple[str, ...], rule: str, need: str) -> list[Violation]:
    out: list[Violation] = []
    for field in fields:
        if field not in region:
            out.append(Violation(rule, f'region {i}: field "{field}" is missing ({need} as finite numbers)', i))
        elif not _is_finite_number(region[field]):
            got = show(region[field])
            out.append(Violation(rule, f'region {i}: field "{field}" must be a finite number, got {got}', i))
    return out


def _fmt(value: float) -> str:
    rounded = round(value, 4)
    return str(int(rounded)) if float(rounded).is_integer() else repr(rounded)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"
