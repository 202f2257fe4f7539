"""COCO object detection / instance segmentation JSON from accepted image annotations.

Categories are the schema's labels (ids 1..n in schema order); a label used in a result but missing from the
schema is appended after them. bbox regions become boxes, polygon regions become segmentations with their
bounding box and shoelace area; other region types are not part of COCO detection and are left out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from annotary_export.domain.model import AcceptedItem


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def shoelace_area(points: Sequence[tuple[float, float]]) -> float:
    twice = sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(points, [*points[1:], points[0]], strict=True))
    return abs(twice) / 2.0


def bbox_geometry(region: dict[str, Any]) -> tuple[list[float], float] | None:
    """([x, y, w, h], area) of a bbox region, or None when it is malformed."""
    values = [_number(region.get(key)) for key in ("x", "y", "w", "h")]
    if any(v is None for v in values):
        return None
    x, y, w, h = (v or 0.0 for v in values)
    if w < 0 or h < 0:
        return None
    return [x, y, w, h], w * h


def polygon_geometry(region: dict[str, Any]) -> tuple[list[float], list[float], float] | None:
    """(flat segmentation, bbox, area) of a polygon region with at least 3 points, or None."""
    raw = region.get("points")
    if not isinstance(raw, list) or len(raw) < 3:
        return None
    points: list[tuple[float, float]] = []
    for point in raw:
        if not isinstance(point, list | tuple) or len(point) < 2:
            return None
        x, y = _number(point[0]), _number(point[1])
        if x is None or y is None:
            return None
        points.append((x, y))
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    bbox = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
    return [c for p in points for c in p], bbox, shoelace_area(points)


def build_coco(items: Sequence[AcceptedItem], labels: Sequence[str], description: str = "") -> dict[str, Any]:
    """The COCO document of the image items (others are skipped), in ``sort_key`` order."""
    category_ids = {name: k + 1 for k, name in enumerate(labels)}
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for item in sorted((i for i in items if i.modality == "image"), key=lambda i: i.sort_key):
        image_id = len(images) + 1
        images.append({"id": image_id, "file_name": item.external_id or item.item_id, "width": item.width,
                       "height": item.height, "annotary_item_id": item.item_id})
        for region in item.result:
            if not isinstance(region, dict) or not isinstance(region.get("label"), str) or not region["label"]:
                continue
            annotation: dict[str, Any] | None = None
            if region.get("type") == "bbox" and (box := bbox_geometry(region)) is not None:
                annotation = {"bbox": box[0], "area": box[1]}
            elif region.get("type") == "polygon" and (poly := polygon_geometry(region)) is not None:
                annotation = {"segmentation": [poly[0]], "bbox": poly[1], "area": poly[2]}
            if annotation is None:
                continue
            category_id = category_ids.setdefault(region["label"], len(category_ids) + 1)
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": category_id,
                                **annotation, "iscrowd": 0})
    categories = [{"id": cid, "name": name, "supercategory": ""} for name, cid in category_ids.items()]
    return {"info": {"description": description, "version": "1.0"}, "licenses": [], "images": images,
            "annotations": annotations, "categories": categories}
