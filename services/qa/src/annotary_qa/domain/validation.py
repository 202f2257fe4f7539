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

from annotary_qa.domain.metrics import geometry, rle
from annotary_qa.domain.metrics.spans import overlapping
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
    "choice_unique",
    "choice_required",
    "polygon_min_points",
    "polygon_valid",
    "polyline_fields",
    "points_inside_image",
    "keypoints_fields",
    "mask_fields",
    "mask_size",
    "span_overlap",
    "exclusive_classes",
    "region_id_unique",
    "relation_endpoints",
    "segment_fields",
    "segment_inside_media",
    "track_fields",
    "track_keyframes",
    "track_inside_frame",
    "track_id_unique",
)

BBOX_TOLERANCE_PX = 0.5
# Region types whose "label" must be one of the schema's labels ("choice" names a choice instead).
LABELED_TYPES = frozenset({"bbox", "polygon", "polyline", "keypoints", "mask", "span", "relation", "segment",
                           "track"})
SEGMENT_TOLERANCE_S = 0.001


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
    bad_regions = {v.region_index for v in violations}
    regions = [(i, r) for i, r in enumerate(result) if i not in bad_regions]  # whole-result rules see sound ones
    violations.extend(_check_ids_and_relations(result, schema))
    violations.extend(_check_track_ids(regions))
    violations.extend(_check_choices_once_and_required(regions, schema))
    violations.extend(_check_span_overlap(regions, schema))
    violations.extend(_check_exclusive(regions, schema))
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


def _points(region: dict[str, Any]) -> list[tuple[float, float]]:
    return [(float(p[0]), float(p[1])) for p in region["points"]]


def _check_polygon(i: int, region: dict[str, Any], schema: LabelSchema, item: ItemFacts) -> list[Violation]:
    points = region.get("points")
    if not isinstance(points, list) or not all(_is_xy(p) for p in points):
        got = "missing" if "points" not in region else f"got {show(points)}"
        return [Violation("polygon_min_points", f'region {i}: field "points" must be a list of [x, y] number pairs, '
                          f"{got} (allowed: at least 3 points)", i)]
    if len(points) < 3:
        return [Violation("polygon_min_points", f'region {i}: field "points" has {len(points)} point(s) '
                          "(allowed: at least 3)", i)]
    distinct = geometry.distinct_points(_points(region))
    if len(distinct) < 3:
        return [Violation("polygon_min_points", f'region {i}: field "points" has {len(distinct)} distinct point(s) '
                          "(allowed: at least 3)", i)]
    out = _inside_image_points(i, _points(region), item)
    if not schema.rules.allow_self_intersection:
        crossing = geometry.self_intersection(distinct)
        if crossing is not None:
            a, b = crossing
            out.append(Violation("polygon_valid", f"region {i}: polygon edges {a} and {b} intersect (allowed: a "
                                 "simple polygon whose edges meet only at shared vertices; "
                                 "rules.allow_self_intersection is false)", i))
            return out
    if geometry.filled_area(distinct) == 0:
        out.append(Violation("polygon_valid", f"region {i}: polygon has zero area (allowed: a polygon enclosing "
                             "some area)", i))
    return out


def _check_polyline(i: int, region: dict[str, Any], _schema: LabelSchema, item: ItemFacts) -> list[Violation]:
    points = region.get("points")
    if not isinstance(points, list) or len(points) < 2 or not all(_is_xy(p) for p in points):
        got = "missing" if "points" not in region else f"got {show(points)}"
        return [Violation("polyline_fields", f'region {i}: field "points" must be a list of at least 2 [x, y] number '
                          f"pairs, {got}", i)]
    return _inside_image_points(i, _points(region), item)


def _inside_image_points(i: int, points: list[tuple[float, float]], item: ItemFacts) -> list[Violation]:
    if item.width <= 0 or item.height <= 0:
        return []
    tol = BBOX_TOLERANCE_PX
    for k, (x, y) in enumerate(points):
        if not (-tol <= x <= item.width + tol and -tol <= y <= item.height + tol):
            return [Violation("points_inside_image", f"region {i}: point {k} ({_fmt(x)}, {_fmt(y)}) is outside the "
                              f"image {item.width}x{item.height} (allowed: 0 <= x <= {item.width}, "
                              f"0 <= y <= {item.height})", i)]
    return []


def _is_keypoint(p: Any) -> bool:
    return (isinstance(p, list) and len(p) == 3 and _is_finite_number(p[0]) and _is_finite_number(p[1])
            and not isinstance(p[2], bool) and p[2] in (0, 1, 2))


def _check_keypoints(i: int, region: dict[str, Any], schema: LabelSchema, item: ItemFacts) -> list[Violation]:
    points = region.get("points")
    if not isinstance(points, list) or not points or not all(_is_keypoint(p) for p in points):
        got = "missing" if "points" not in region else f"got {show(points)}"
        return [Violation("keypoints_fields", f'region {i}: field "points" must be a non-empty list of [x, y, v] with '
                          f"v 0 (not labelled), 1 (hidden) or 2 (visible), {got}", i)]
    sigmas = schema.rules.keypoint_sigmas
    if sigmas is not None and len(points) != len(sigmas):
        return [Violation("keypoints_fields", f'region {i}: field "points" has {len(points)} keypoint(s) (allowed: '
                          f"{len(sigmas)}, one per rules.keypoint_sigmas)", i)]
    return _inside_image_points(i, [(float(p[0]), float(p[1])) for p in points if p[2] > 0], item)


def _check_mask(i: int, region: dict[str, Any], _schema: LabelSchema, item: ItemFacts) -> list[Violation]:
    mask = region.get("rle")
    need = ('a COCO RLE {"size": [h, w], "counts": compressed string or list of run lengths} covering at least '
            "one pixel")

    def bad(problem: str) -> list[Violation]:
        return [Violation("mask_fields", f'region {i}: field "rle" {problem} (allowed: {need})', i)]

    if not isinstance(mask, dict):
        return bad("is missing" if "rle" not in region else f"must be an object, got {show(mask)}")
    size = mask.get("size")
    if (not isinstance(size, list) or len(size) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)):
        return bad(f"has size {show(size)}, not [h, w] positive integers")
    counts = mask.get("counts")
    if not isinstance(counts, str | list):
        return bad(f"has counts {show(counts)}")
    try:
        runs = rle.decode_counts(counts)
    except rle.RleError as exc:
        return bad(f"has counts that do not decode ({exc})")
    h, w = size
    if sum(runs) != h * w:
        return bad(f"has runs adding up to {sum(runs)} pixels, not h * w = {h * w}")
    if rle.area(runs) == 0:
        return bad("covers no pixel")
    if item.width > 0 and item.height > 0 and (h, w) != (item.height, item.width):
        return [Violation("mask_size", f'region {i}: field "rle.size" is [{h}, {w}] (allowed: [{item.height}, '
                          f"{item.width}], the image's [height, width])", i)]
    return []


def _check_relation(i: int, region: dict[str, Any], _schema: LabelSchema, _item: ItemFacts) -> list[Violation]:
    missing = [f for f in ("from", "to") if f not in region or isinstance(region[f], dict | list) or region[f] is None]
    if missing:
        return [Violation("relation_endpoints", f'region {i}: field "{missing[0]}" must name the "id" of another '
                          'region of the result (allowed: "from" and "to" region ids)', i)]
    return []


def _media_facts(item: ItemFacts) -> tuple[float | None, int | None]:
    """(duration in seconds, frame count) from the item's meta (probed by ingest), when known."""
    meta_json = getattr(item, "meta_json", "")
    try:
        meta = json.loads(meta_json) if isinstance(meta_json, str) and meta_json else {}
    except ValueError:
        return None, None
    if not isinstance(meta, dict):
        return None, None
    duration: Any = meta.get("duration")
    frames: Any = meta.get("frame_count")
    return (float(duration) if _is_finite_number(duration) and duration > 0 else None,
            int(frames) if isinstance(frames, int) and not isinstance(frames, bool) and frames > 0 else None)


def _check_segment(i: int, region: dict[str, Any], _schema: LabelSchema, item: ItemFacts) -> list[Violation]:
    bad = _number_fields(i, region, ("start", "end"), "segment_fields", 'a segment needs "start" and "end" seconds')
    text = region.get("text")
    if "text" in region and not isinstance(text, str):
        bad.append(Violation("segment_fields", f'region {i}: field "text" must be a string (the transcript), '
                             f"got {show(text)}", i))
    if bad:
        return bad
    start, end = float(region["start"]), float(region["end"])
    duration, _ = _media_facts(item)
    limit = f"{_fmt(duration)}, the duration in seconds" if duration is not None else "the duration"
    allowed = f"(allowed: 0 <= start < end <= {limit})"
    problem = None
    if start < 0:
        problem = f'field "start" is {_fmt(start)}, before the start of the media'
    elif end <= start:
        problem = f'field "end" is {_fmt(end)}, not after "start" {_fmt(start)}'
    elif duration is not None and end > duration + SEGMENT_TOLERANCE_S:
        problem = f'field "end" is {_fmt(end)}, beyond the end of the media'
    return [Violation("segment_inside_media", f"region {i}: {problem} {allowed}", i)] if problem else []


def _check_track(i: int, region: dict[str, Any], _schema: LabelSchema, item: ItemFacts) -> list[Violation]:
    track_id = region.get("track_id")
    if isinstance(track_id, bool) or not isinstance(track_id, str | int) or track_id == "":
        got = "missing" if "track_id" not in region else f"got {show(track_id)}"
        return [Violation("track_fields", f'region {i}: field "track_id" must be a non-empty string or an integer, '
                          f"{got}", i)]
    keyframes = region.get("keyframes")
    need = '(allowed: a non-empty list of {"frame": integer >= 0, "bbox": [x, y, w, h], "attributes"?: {...}})'
    if not isinstance(keyframes, list) or not keyframes:
        got = "is missing" if "keyframes" not in region else f"is {show(keyframes)}"
        return [Violation("track_fields", f'region {i}: field "keyframes" {got} {need}', i)]
    _, frame_count = _media_facts(item)
    out: list[Violation] = []
    previous = -1
    for k, kf in enumerate(keyframes):
        where = f"region {i}: keyframes[{k}]"
        if not isinstance(kf, dict):
            return [Violation("track_fields", f"{where} must be an object, got {show(kf)} {need}", i)]
        frame, bbox, attributes = kf.get("frame"), kf.get("bbox"), kf.get("attributes", {})
        if isinstance(frame, bool) or not isinstance(frame, int) or frame < 0:
            return [Violation("track_fields", f'{where}: field "frame" must be an integer >= 0, got {show(frame)}', i)]
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(_is_finite_number(v) for v in bbox)):
            return [Violation("track_fields", f'{where}: field "bbox" must be [x, y, w, h] finite numbers, '
                              f"got {show(bbox)}", i)]
        if not isinstance(attributes, dict):
            return [Violation("track_fields", f'{where}: field "attributes" must be an object, got '
                              f"{show(attributes)}", i)]
        if frame <= previous:
            out.append(Violation("track_keyframes", f'{where}: field "frame" is {frame}, not after the previous '
                                 f"keyframe's {previous} (allowed: keyframes in increasing frame order, one per "
                                 "frame)", i))
        elif frame_count is not None and frame >= frame_count:
            out.append(Violation("track_keyframes", f'{where}: field "frame" is {frame}, beyond the last frame '
                                 f"(allowed: 0 <= frame < {frame_count}, the video's frame count)", i))
        previous = max(previous, frame)
        x, y, w, h = (float(v) for v in bbox)
        if w <= 0 or h <= 0:
            out.append(Violation("track_fields", f'{where}: field "bbox" has size {_fmt(w)}x{_fmt(h)} (allowed: '
                                 "w > 0 and h > 0)", i))
        elif item.width > 0 and item.height > 0:
            out.extend(Violation("track_inside_frame", v.message.replace(f"region {i}:", f"{where}:", 1)
                                 .replace("the image", "the frame"), i)
                       for v in _inside_image(i, x, y, w, h, item.width, item.height))
    return out


def _check_track_ids(regions: list[tuple[int, Any]]) -> list[Violation]:
    out: list[Violation] = []
    first: dict[str, int] = {}
    for i, region in regions:
        if region.get("type") != "track":
            continue
        key = _id_key(region["track_id"])
        if key in first:
            out.append(Violation("track_id_unique", f'region {i}: "track_id" {show(region["track_id"])} is already '
                                 f"the track of region {first[key]} (allowed: one region per track)", i))
        else:
            first[key] = i
    return out


def _id_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _check_ids_and_relations(result: list[Any], _schema: LabelSchema) -> list[Violation]:
    out: list[Violation] = []
    first: dict[str, int] = {}
    for i, region in enumerate(result):
        if isinstance(region, dict) and "id" in region:
            key = _id_key(region["id"])
            if key in first:
                out.append(Violation("region_id_unique", f'region {i}: "id" {show(region["id"])} is already the id of '
                                     f"region {first[key]} (allowed: ids unique within a result)", i))
            else:
                first[key] = i
    for i, region in enumerate(result):
        if not isinstance(region, dict) or region.get("type") != "relation":
            continue
        for end in ("from", "to"):
            if end not in region or isinstance(region[end], dict | list) or region[end] is None:
                continue  # reported by the region check
            target = first.get(_id_key(region[end]))
            if target is None:
                ids = ", ".join(show(r["id"]) for r in result if isinstance(r, dict) and "id" in r) or "none"
                out.append(Violation("relation_endpoints", f'region {i}: field "{end}" {show(region[end])} is not the '
                                     f"id of a region of the result (allowed: {ids})", i))
            elif target == i or result[target].get("type") == "relation":
                out.append(Violation("relation_endpoints", f'region {i}: field "{end}" {show(region[end])} names a '
                                     "relation (allowed: a non-relation region's id)", i))
    return out


def _check_choices_once_and_required(regions: list[tuple[int, Any]], schema: LabelSchema) -> list[Violation]:
    out: list[Violation] = []
    seen: dict[str, int] = {}
    for i, region in regions:
        if region.get("type") != "choice":
            continue
        name = region["name"]
        if name in seen:
            out.append(Violation("choice_unique", f'region {i}: choice "{name}" is already answered in region '
                                 f"{seen[name]} (allowed: one answer per choice)", i))
        else:
            seen[name] = i
    required = schema.required_choices
    for name in required:
        if name not in seen:
            out.append(Violation("choice_required", f'result: required choice "{name}" is not answered '
                                 f"(required: {', '.join(required)})", -1))
    return out


def _check_span_overlap(regions: list[tuple[int, Any]], schema: LabelSchema) -> list[Violation]:
    if schema.rules.allow_overlap:
        return []
    spans = [(i, (int(r["start"]), int(r["end"]), str(r["label"]))) for i, r in regions if r.get("type") == "span"]
    found = overlapping(spans)
    if found is None:
        return []
    a, b = found
    sa, sb = dict(spans)[a], dict(spans)[b]
    return [Violation("span_overlap", f"region {b}: span [{sb[0]}, {sb[1]}) overlaps region {a}'s span "
                      f"[{sa[0]}, {sa[1]}) (allowed: no overlapping spans; rules.allow_overlap is false)", b)]


def _check_exclusive(regions: list[tuple[int, Any]], schema: LabelSchema) -> list[Violation]:
    if not schema.rules.exclusive:
        return []
    present: dict[str, int] = {}  # class -> first region carrying it
    for i, region in regions:
        if region.get("type") == "choice":
            value = region.get("value")
            for v in value if isinstance(value, list) else [value]:
                present.setdefault(v, i)
        elif isinstance(region.get("label"), str):
            present.setdefault(region["label"], i)
    out: list[Violation] = []
    for g, group in enumerate(schema.rules.exclusive):
        hits = [name for name in group if name in present]
        if len(hits) > 1:
            names = " and ".join(f'"{h}"' for h in hits)
            out.append(Violation("exclusive_classes", f"result: {names} are mutually exclusive (regions "
                                 f"{', '.join(str(present[h]) for h in hits)}; rules.exclusive[{g}]: "
                                 f"{', '.join(group)})", -1))
    return out


_SHAPE_CHECKS: dict[str, Callable[[int, dict[str, Any], LabelSchema, ItemFacts], list[Violation]]] = {
    "bbox": _check_bbox,
    "span": _check_span,
    "choice": _check_choice,
    "polygon": _check_polygon,
    "polyline": _check_polyline,
    "keypoints": _check_keypoints,
    "mask": _check_mask,
    "relation": _check_relation,
    "segment": _check_segment,
    "track": _check_track,
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
